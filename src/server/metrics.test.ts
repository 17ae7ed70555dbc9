import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';

describe('createMetrics', () => {
  it('records steps, transitions and outcomes under their labels', async () => {
    const metrics = createMetrics();
    metrics.observeStep('supervisor.restart', 'succeeded', 0.003);
    metrics.observeStep('supervisor.restart', 'succeeded', 45);
    metrics.stageTransition('review');
    metrics.stageTransition('review');
    metrics.missionFinished('resolved');

    const text = await metrics.registry.metrics();
    expect(text).toContain('interlock_step_duration_seconds_count{tool="supervisor.restart",status="succeeded"} 2');
    // 1 ms .. 60 s buckets: 3 ms falls in le=0.005, 45 s only in le=60.
    expect(text).toContain('interlock_step_duration_seconds_bucket{le="0.005",tool="supervisor.restart",status="succeeded"} 1');
    expect(text).toContain('interlock_step_duration_seconds_bucket{le="30",tool="supervisor.restart",status="succeeded"} 1');
    expect(text).toContain('interlock_step_duration_seconds_bucket{le="60",tool="supervisor.restart",status="succeeded"} 2');
    expect(text).toContain('interlock_stage_transitions_total{to="review"} 2');
    expect(text).toContain('interlock_missions_finished_total{outcome="resolved"} 1');
  });

  it('reads mission counts and queue depth from the collectors on every scrape, replacing old series', async () => {
    const metrics = createMetrics();
    let rows = [
      { stage: 'execute' as const, outcome: null, count: 3 },
      { stage: 'close' as const, outcome: 'resolved' as const, count: 10 },
    ];
    let depth = 5;
    metrics.setCollectors({ countByStage: () => Promise.resolve(rows), queueDepth: () => Promise.resolve(depth) });

    const first = await metrics.registry.metrics();
    expect(first).toContain('interlock_missions{stage="execute",outcome="none"} 3');
    expect(first).toContain('interlock_missions{stage="close",outcome="resolved"} 10');
    expect(first).toContain('interlock_queue_depth 5');

    rows = [{ stage: 'close', outcome: 'resolved', count: 13 }];
    depth = 0;
    const second = await metrics.registry.metrics();
    expect(second).not.toContain('stage="execute"');
    expect(second).toContain('interlock_missions{stage="close",outcome="resolved"} 13');
    expect(second).toContain('interlock_queue_depth 0');
  });

  it('keeps the scrape working when a collector fails, and counts the failure', async () => {
    const metrics = createMetrics();
    metrics.setCollectors({ countByStage: () => Promise.reject(new Error('database down')), queueDepth: () => Promise.resolve(2) });
    await metrics.registry.metrics();
    // The error counter is rendered before the failing collector runs, so it shows from the next scrape.
    const text = await metrics.registry.metrics();
    expect(text).toContain('interlock_metrics_collector_errors_total{collector="countByStage"} 1');
    expect(text).not.toMatch(/^interlock_missions\{/m);
    expect(text).toContain('interlock_queue_depth 2');
    expect(text).toContain('interlock_process_resident_memory_bytes');
  });

  it('uses a registry of its own: two instances do not collide and the global registry stays empty', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.missionFinished('denied');
    expect(await b.registry.metrics()).not.toContain('interlock_missions_finished_total{outcome="denied"}');
    expect(await globalRegistry.metrics()).not.toContain('interlock_');
  });
});
