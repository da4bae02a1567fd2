/**
 * The verifier a semantic hit must pass (src/cache/verify.ts): each check refuses the near miss it is for and
 * lets the paraphrase through.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { factsOf, verify, verifyFacts } from '../../src/cache/verify.js';

const cases: Array<[string, string, string, string]> = [
  ['number', 'Convert 5 km to miles', 'Convert 8 km to miles', 'number_mismatch'],
  ['number word', 'List five fruits high in vitamin C.', 'List three fruits high in vitamin C.', 'number_mismatch'],
  ['unit', 'How many grams in a pound?', 'How many grams in an ounce?', 'unit_mismatch'],
  ['unit on the same number', 'Convert 5 km to miles', 'Convert 5 miles to km', 'unit_mismatch'],
  ['capitalised entity', 'What is the capital of France?', 'What is the capital of Germany?', 'entity_mismatch'],
  ['code', 'How do I fix error TS2345 in TypeScript?', 'How do I fix error TS2322 in TypeScript?', 'entity_mismatch'],
  ['quoted string', 'How do I use the "grep" command?', 'How do I use the "sed" command?', 'entity_mismatch'],
  ['negation', 'Which foods contain gluten?', "Which foods don't contain gluten?", 'negation_mismatch'],
  ['negative prefix', 'How do I lock the screen on Windows?', 'How do I unlock the screen on Windows?', 'negation_mismatch'],
  ['from/to', 'How do I migrate from MySQL to PostgreSQL?', 'How do I migrate from PostgreSQL to MySQL?', 'direction_mismatch'],
  ['than', 'Is Python faster than JavaScript?', 'Is JavaScript faster than Python?', 'direction_mismatch'],
  ['antonym', 'Should I buy Tesla stock now?', 'Should I sell Tesla stock now?', 'direction_mismatch'],
  ['comparative antonym', 'Is a crocodile bigger than an alligator?', 'Is a crocodile smaller than an alligator?', 'direction_mismatch'],
  ['subject and object', 'Did Alice call Bob?', 'Did Bob call Alice?', 'direction_mismatch'],
  ['time word', 'What are the top news stories today?', 'What were the top news stories yesterday?', 'time_mismatch'],
  ['time phrase', 'What movies are out this week?', 'What movies are out next week?', 'time_mismatch'],
  ['question word', 'When was the Eiffel Tower built?', 'Why was the Eiffel Tower built?', 'word_mismatch'],
  ['one lowercase word', 'What do cats eat?', 'What do rabbits eat?', 'word_mismatch'],
];

const paraphrases: Array<[string, string]> = [
  ['Convert 5 km to miles', 'How many miles is 5 km?'],
  ['What is the capital of France?', "what's the capital of france"],
  ['Is it going to rain tomorrow in Seattle?', 'Will it rain in Seattle tomorrow?'],
  ['What is 15% of 80?', 'Calculate 15 percent of 80.'],
  ['How do I change a flat tyre?', 'How to change a flat tire?'],
  ['How do I purchase a gift card?', 'How can I buy a gift card?'],
  ['In Python, how do I sort a list?', 'How do I sort a list in Python?'],
  ['How many calories are in a banana?', 'Calories in one banana?'],
];

describe('cache verifier', () => {
  it.each(cases)('refuses a near miss in %s', (_name, a, b, verdict) => {
    expect(verify(a, b).verdict).toBe(verdict);
    expect(verify(b, a).verdict).toBe(verdict);
  });

  it.each(paraphrases)('verifies the paraphrase %s / %s', (a, b) => {
    expect(verify(a, b)).toEqual({ verdict: 'verified' });
    expect(verify(b, a)).toEqual({ verdict: 'verified' });
  });

  it('says what disagreed', () => {
    expect(verify('Convert 5 km to miles', 'Convert 8 km to miles').detail).toBe('5 ≠ 8');
  });
});

describe('cache verifier on facts read once', () => {
  const { pairs } = JSON.parse(readFileSync(new URL('../fixtures/cache-pairs.json', import.meta.url), 'utf8')) as { pairs: Array<{ a: string; b: string }> };
  const texts = [...new Set([...cases.flatMap(([, a, b]) => [a, b]), ...paraphrases.flat(), ...pairs.flatMap((p) => [p.a, p.b])])];

  it('gives the verdict and detail of verify for every labelled pair, both ways', () => {
    for (const { a, b } of pairs) {
      expect(verifyFacts(factsOf(a), factsOf(b))).toEqual(verify(a, b));
      expect(verifyFacts(factsOf(b), factsOf(a))).toEqual(verify(b, a));
    }
  });

  it('keeps one question\'s facts unchanged however many questions they are compared with (a cached entry meets many lookups)', () => {
    const facts = new Map(texts.slice(0, 60).map((t) => [t, factsOf(t)]));
    for (let round = 0; round < 2; round++) {
      for (const [a, fa] of facts) for (const [b, fb] of facts) expect(verifyFacts(fa, fb)).toEqual(verify(a, b));
    }
  });
});
