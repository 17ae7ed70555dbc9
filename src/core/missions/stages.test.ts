import { describe, expect, it } from 'vitest';
import { STAGES, canTransition, isTerminalStage } from './stages.js';

describe('stage machine', () => {
  it('never reaches execute except from review (planning and executing are separated by a gate)', () => {
    for (const from of STAGES) expect(canTransition(from, 'execute')).toBe(from === 'review');
  });

  it('lets every non-terminal stage escalate, and nothing leave close or escalate', () => {
    for (const stage of STAGES) {
      if (isTerminalStage(stage)) expect(STAGES.some((to) => canTransition(stage, to))).toBe(false);
      else expect(canTransition(stage, 'escalate')).toBe(true);
    }
    expect(STAGES.filter(isTerminalStage)).toEqual(['close', 'escalate']);
  });

  it('never moves backwards in the loop', () => {
    STAGES.forEach((from, i) => STAGES.forEach((to, j) => { if (j <= i) expect(canTransition(from, to)).toBe(false); }));
  });
});
