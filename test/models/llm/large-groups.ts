import { createRng, type Rng } from '../../../src/domain/random.js';
import type { ParticipantView } from '../../../src/models/ports.js';
import {
  type ChatBody,
  chatJson,
  dataOf,
  defaultChat,
  type FakeReply,
  schemaName,
} from '../../fakes/openai.js';

/**
 * Helpers for large groups against the fake OpenAI server, shared by the tests and
 * `npm run bench`: synthetic opinions, and answers to a summaries prompt.
 */

const THEMES: readonly (readonly string[])[] = [
  ['burnout', 'rest', 'health', 'family', 'energy', 'stress', 'wellbeing', 'recovery'],
  ['customers', 'support', 'friday', 'coverage', 'rota', 'clients', 'response', 'service'],
  ['trial', 'months', 'measure', 'pilot', 'review', 'data', 'evidence', 'experiment'],
  ['hours', 'longer', 'days', 'tiring', 'overtime', 'schedule', 'workload', 'deadlines'],
  ['flexible', 'choice', 'parents', 'commute', 'remote', 'freedom', 'autonomy', 'options'],
  ['salary', 'cost', 'budget', 'productivity', 'output', 'revenue', 'contracts', 'pay'],
];
const FILLER = [
  'we',
  'should',
  'think',
  'about',
  'the',
  'team',
  'because',
  'it',
  'matters',
  'for',
  'everyone',
  'and',
  'our',
  'work',
];

function pick<T>(items: readonly T[], rng: Rng): T {
  return items[Math.floor(rng.next() * items.length)] as T;
}

/** `n` opinions of about `words` words, each leaning on one of six themes (seeded). */
export function syntheticOpinions(n: number, words = 60, seed = 1): ParticipantView[] {
  const rng = createRng(`opinions:${seed}`);
  return Array.from({ length: n }, (_, i) => {
    const theme = THEMES[i % THEMES.length] as readonly string[];
    const out: string[] = [];
    while (out.length < words) {
      out.push(rng.next() < 0.45 ? pick(theme, rng) : pick(FILLER, rng));
    }
    const text = `Member ${i + 1}: ${out.join(' ')}.`;
    return { id: `u${i + 1}`, opinion: text, critique: null };
  });
}

/**
 * The fake's default answers (the batched judge included), with a statement made from a
 * summaries prompt's first quotes.
 */
export function largeGroupChat(body: ChatBody): FakeReply {
  if (schemaName(body) === 'consensus_statement') {
    const data = dataOf(body);
    if (Array.isArray(data.opinion_groups)) {
      const quotes = (data.opinion_groups as { quoted_opinions: string[] }[]).flatMap(
        (g) => g.quoted_opinions,
      );
      const words = quotes
        .slice(0, 3)
        .join(' ')
        .replace(/Member \d+:/g, '')
        .split(/\s+/)
        .filter((w) => w.length > 0)
        .slice(0, 60);
      return chatJson({ statement: `Across the group: ${words.join(' ')}` });
    }
  }
  return defaultChat(body);
}
