import { randomUUID } from 'node:crypto';
import { MissionRequestSchema, type MissionRequestInput } from '../../src/core/missions/mission.js';
import type { NewMission } from '../../src/core/ports.js';

/**
 * A valid {@link NewMission} for store tests: a fresh UUID, a validated request (defaults applied)
 * built from `request` over a one-step plan, risk `write-low`, created at `at` (ms since the epoch).
 */
export function newMission(request: Partial<MissionRequestInput> = {}, at = Date.now(), id: string = randomUUID()): NewMission {
  return {
    id,
    request: MissionRequestSchema.parse({
      title: 'Restart the checkout service',
      steps: [{ tool: 'supervisor.restart', args: { program: 'checkout' } }],
      labels: { service: 'checkout', environment: 'staging' },
      ...request,
    }),
    steps: [],
    reason: 'requested by a test',
    risk: 'write-low',
    workflowVersion: 'test-1',
    at,
  };
}
