import { describe, expect, it } from 'vitest';
import { messagesFor, schedule, tenantsFor, type WorkloadOptions } from '../../bench/routing/workload.js';

const OPTIONS: WorkloadOptions = { seed: 7, textSeed: 11, tenants: 3, usersPerTenant: 4, systemPromptTokens: 400, questionTokens: 30, outputTokens: 20, ratePerSecond: 5, durationMs: 20_000 };

describe('routing benchmark workload', () => {
  it('is seeded: the same options give the same arrivals, another seed others', () => {
    expect(schedule(OPTIONS)).toEqual(schedule(OPTIONS));
    expect(schedule({ ...OPTIONS, seed: 8 })).not.toEqual(schedule(OPTIONS));
  });

  it('arrives at about the offered Poisson rate, each user round after round', () => {
    const arrivals = schedule({ ...OPTIONS, durationMs: 200_000 });
    expect(arrivals.length / 200).toBeGreaterThan(4.5);
    expect(arrivals.length / 200).toBeLessThan(5.5);
    const rounds = arrivals.filter((a) => a.tenant === 1 && a.user === 2).map((a) => a.round);
    expect(rounds).toEqual(rounds.map((_, i) => i));
  });

  it('shares the system prompt within a tenant and grows the history turn by turn', () => {
    const first = messagesFor(OPTIONS, { atMs: 0, tenant: 1, user: 0, round: 0 });
    const third = messagesFor(OPTIONS, { atMs: 0, tenant: 1, user: 0, round: 2 }, ['answer one', 'answer two']);
    const otherTenant = messagesFor(OPTIONS, { atMs: 0, tenant: 2, user: 0, round: 0 });
    expect(first[0]!.content).toHaveLength(1600);
    expect(third[0]).toEqual(first[0]);
    expect(otherTenant[0]!.content).not.toBe(first[0]!.content);
    expect(third.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant', 'user']);
    // The earlier turns are the same questions the user asked before: the prefix only grows.
    expect(third[1]).toEqual(first[1]);
    expect(third[2]!.content).toBe('answer one');
  });

  it('keeps the texts across steps, and conversations go on where the last step left them', () => {
    const nextStep = { ...OPTIONS, seed: 8 };
    const arrival = { atMs: 0, tenant: 1, user: 3, round: 0 };
    expect(messagesFor(nextStep, arrival)).toEqual(messagesFor(OPTIONS, arrival));
    const rounds = new Map<string, number>();
    const first = schedule(OPTIONS, rounds);
    const second = schedule(nextStep, rounds);
    const asked = (list: typeof first) => list.filter((a) => a.tenant === 0 && a.user === 1).map((a) => a.round);
    expect([...asked(first), ...asked(second)]).toEqual([...asked(first), ...asked(second)].map((_, i) => i));
    expect(asked(second).length).toBeGreaterThan(0);
  });

  it('sizes the tenants so that the prefixes exceed one engine\'s cache, or need a fraction of it', () => {
    // Under pressure the prompts exceed one engine's cache, but a third of them fits in one.
    expect(tenantsFor('pressure', 8192, 1024) * 1024).toBeGreaterThan(8192);
    expect((tenantsFor('pressure', 8192, 1024) * 1024) / 3).toBeLessThan(8192);
    expect(tenantsFor('no-pressure', 8192, 1024) * 1024).toBeLessThan(8192);
  });
});
