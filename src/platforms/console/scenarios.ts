import { createRng, hashString, type Rng, shuffled } from '../../domain/random.js';

/**
 * Ready-made groups for the console demo. Each member holds a genuinely different
 * position (for, against, conditional, pragmatic, worried about cost or fairness...),
 * so that finding a statement everybody can live with is actually hard.
 */

export interface ScenarioMember {
  /** Key-safe: it becomes a participant id. */
  id: string;
  name: string;
  opinion: string;
}

export interface Scenario {
  id: string;
  question: string;
  members: ScenarioMember[];
}

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'four-day-week',
    question: 'Should our team adopt a four-day week?',
    members: [
      {
        id: 'ana',
        name: 'Ana',
        opinion:
          'Yes, absolutely. A four-day week gives people real time to recover, and the trials I have read found that output barely dropped. It would also make it much easier to hire and keep good people.',
      },
      {
        id: 'ben',
        name: 'Ben',
        opinion:
          'No. Our customers expect an answer on Fridays, and squeezing five days of work into four just means longer and more stressful days. I think burnout would get worse, not better.',
      },
      {
        id: 'chloe',
        name: 'Chloé',
        opinion:
          'I would support it only if customers can still reach us every working day, for example with staggered days off. We also need clear goals, so that nobody ends up quietly working the fifth day.',
      },
      {
        id: 'dev',
        name: 'Dev',
        opinion:
          "Let's not decide this in the abstract. We should run a three-month pilot, measure output and customer satisfaction, and then decide together with real data.",
      },
      {
        id: 'eva',
        name: 'Eva',
        opinion:
          'My worry is the cost. If we keep full salaries but have to pay contractors to cover Fridays, the budget does not add up this year. A short pilot would at least show us the real numbers before we commit to anything.',
      },
      {
        id: 'femi',
        name: 'Femi',
        opinion:
          'Whatever we do has to be fair to everyone. Part-time colleagues and the people on call must not lose out, and the support team should get the same benefit as the developers.',
      },
      {
        id: 'greta',
        name: 'Greta',
        opinion:
          'I would rather have flexible hours than a fixed day off. Several of us do the school run in the morning, and a rigid four-day schedule with long days makes that harder, not easier.',
      },
      {
        id: 'hugo',
        name: 'Hugo',
        opinion:
          'We only just finished a reorganisation and people are tired of change. Rolling out a four-day week for everyone now would be too much. If we try it at all, start small with one team, once the new teams have settled.',
      },
    ],
  },
  {
    id: 'office-days',
    question: 'Should everyone be required to work from the office three days a week?',
    members: [
      {
        id: 'ines',
        name: 'Inès',
        opinion:
          'Yes. New hires learn far faster when they can sit next to experienced colleagues, and the hallway conversations we lost since going remote were where a lot of good ideas started.',
      },
      {
        id: 'jonas',
        name: 'Jonas',
        opinion:
          'No. I moved two hours away from the office because remote work was promised as permanent. A mandatory three days would force me to quit.',
      },
      {
        id: 'kemi',
        name: 'Kemi',
        opinion:
          'Fixed days for everyone make no sense. Teams should choose their own office days based on when they actually need to collaborate, and meet in person with a purpose.',
      },
      {
        id: 'liam',
        name: 'Liam',
        opinion:
          'Whatever the rule is, the office has to be worth the trip. Right now it is half empty, the desks are bad and everyone sits on video calls with headphones on anyway.',
      },
      {
        id: 'maya',
        name: 'Maya',
        opinion:
          'Commuting costs me almost ten percent of my salary. If the company wants us in the office, it should pay for travel or lunch, otherwise it is a pay cut by another name.',
      },
      {
        id: 'noor',
        name: 'Noor',
        opinion:
          'I worry about fairness. Parents, carers and colleagues with disabilities would pay the highest price for a strict rule, so any policy needs real exceptions that are easy to ask for.',
      },
      {
        id: 'oscar',
        name: 'Oscar',
        opinion:
          'I like a mix. One or two anchor days a week when the whole team is in would give us the in-person time without the resentment that three mandatory days would cause.',
      },
    ],
  },
  {
    id: 'car-free-street',
    question: 'Should our town turn the high street into a car-free pedestrian zone?',
    members: [
      {
        id: 'paula',
        name: 'Paula',
        opinion:
          'Yes, and the sooner the better. Towns that closed their centres to cars got cleaner air, safer streets for children and busier cafés. The high street is choked with traffic.',
      },
      {
        id: 'quentin',
        name: 'Quentin',
        opinion:
          'I run a hardware shop on the high street and my customers carry heavy goods to their cars. If they cannot park near the shop, they will drive to the retail park instead and I will lose my business.',
      },
      {
        id: 'rosa',
        name: 'Rosa',
        opinion:
          'I use a wheelchair and rely on a car to get into town. A pedestrian zone is only acceptable if disabled drivers, taxis and buses can still reach the high street.',
      },
      {
        id: 'sam',
        name: 'Sam',
        opinion:
          'Try it first. Close the street to cars on weekends for one summer, count the visitors and ask the shops how trade went, then decide.',
      },
      {
        id: 'tara',
        name: 'Tara',
        opinion:
          'Deliveries worry me. Shops need vans in the morning, so the zone should allow deliveries before ten and then keep cars out for the rest of the day.',
      },
      {
        id: 'umar',
        name: 'Umar',
        opinion:
          'Closing the high street will just push all the traffic into the residential streets around it, including mine. Nobody has explained where those cars are supposed to go.',
      },
      {
        id: 'vera',
        name: 'Vera',
        opinion:
          'The council should spend the money on better buses and a cheap park-and-ride first. Banning cars without giving people another way to get into town is unfair on those who live in the villages.',
      },
    ],
  },
  {
    id: 'bonus-sharing',
    question: 'Should we replace individual bonuses with an equal share of the profits?',
    members: [
      {
        id: 'wendy',
        name: 'Wendy',
        opinion:
          'Yes. Individual bonuses reward the people who are best at self-promotion, not the ones doing the quiet work that holds the team together. An equal share of the profits would make us pull in the same direction.',
      },
      {
        id: 'xavier',
        name: 'Xavier',
        opinion:
          'No. People who take on more responsibility and deliver more should earn more. An equal share would drive our best performers to competitors who pay for results.',
      },
      {
        id: 'yuki',
        name: 'Yuki',
        opinion:
          'I could live with profit sharing if the criteria were transparent. The real problem with the current bonuses is that nobody knows how they are decided.',
      },
      {
        id: 'zane',
        name: 'Zane',
        opinion:
          'A hybrid makes more sense: a team-wide profit share as the base, plus a smaller individual bonus for exceptional work that the team itself nominates.',
      },
      {
        id: 'amara',
        name: 'Amara',
        opinion:
          'Profits swing a lot from year to year. I would rather have a predictable salary increase than a share that might be zero in a bad year.',
      },
      {
        id: 'bruno',
        name: 'Bruno',
        opinion:
          'Equal shares are not fair to people who joined last month compared with those who have been here for ten years. The share should at least depend on time worked.',
      },
      {
        id: 'celia',
        name: 'Celia',
        opinion:
          'Before changing anything, ask everyone anonymously what they think of the current bonus system. We are guessing about what people want.',
      },
    ],
  },
];

export function findScenario(id: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.id === id);
}

/** A record of the Habermas Machine question bank (shared/data/habermas-questions). */
export interface QuestionRecord {
  id?: string;
  question: string;
  affirming_statement: string;
  negating_statement: string;
}

export interface ScenarioOptions {
  seed: number;
  /** Group size, 6 to 10; default 7. */
  members?: number;
}

/** The statement as a clause to embed mid-sentence: no final stop, no shouting NOT. */
function clause(statement: string): string {
  const body = statement
    .trim()
    .replace(/\s+/g, ' ')
    .replace(/[.!?]+$/, '')
    .replace(/\bNOT\b/g, 'not');
  // Keep acronyms and names ("UK", "BBC") capitalised: only a capital followed by a
  // lower-case letter is a sentence-initial word.
  return /^[A-Z][a-z]/.test(body) ? body.charAt(0).toLowerCase() + body.slice(1) : body;
}

type Template = (aff: string, neg: string) => string;

/**
 * One stance, written several ways so that two groups built from the same question
 * do not read alike. Every stance names either side's statement or a concern of its
 * own, so the group disagrees on substance and not just in tone.
 */
interface Stance {
  key: string;
  variants: readonly Template[];
}

const STANCES: readonly Stance[] = [
  {
    key: 'for',
    variants: [
      (aff) =>
        `I'm convinced that ${aff}. The benefits are clear, and every year we wait makes the problem harder to fix.`,
      (aff) =>
        `Strongly yes: ${aff}. The evidence I have seen points one way, and most people would be better off for it.`,
    ],
  },
  {
    key: 'against',
    variants: [
      (_aff, neg) =>
        `I disagree. ${capitalise(neg)}, because the risks are real and the promised benefits are mostly guesses.`,
      (_aff, neg) =>
        `No. ${capitalise(neg)}. It would do more harm than good, especially to people who are already struggling.`,
    ],
  },
  {
    key: 'conditional',
    variants: [
      (aff) =>
        `I could accept that ${aff}, but only with clear safeguards and an honest review after a year. Without those conditions I would vote against it.`,
      (aff) =>
        `Maybe, if it is done carefully. I would agree that ${aff}, as long as there are firm limits and someone independent checks the results.`,
    ],
  },
  {
    key: 'pilot',
    variants: [
      (aff) =>
        `Rather than arguing in principle about whether ${aff}, let's try it on a small scale first and look at the evidence. If it works, expand it; if not, stop.`,
      () =>
        `We keep debating this with opinions instead of data. Start with a limited trial, measure what happens, and decide afterwards.`,
    ],
  },
  {
    key: 'cost',
    variants: [
      () =>
        `My main worry is cost. Whatever the merits, someone has to pay for this, and I want to know who carries that cost before I agree.`,
      () =>
        `Nobody has said what this would cost or where the money comes from. I can't support it until the numbers are on the table.`,
    ],
  },
  {
    key: 'fairness',
    variants: [
      () =>
        `Whatever we decide has to be fair. The people most affected should have a real say, and nobody should carry the burden alone.`,
      () =>
        `I care less about the yes or no than about who pays the price. Any decision must protect the people with the least power in this.`,
    ],
  },
  {
    key: 'torn',
    variants: [
      (_aff, neg) =>
        `I can see both sides. There are real benefits, but the risks worry me, so I lean slightly towards the view that ${neg}.`,
      (aff) =>
        `Honestly, I'm torn. I think ${aff} in principle, but I doubt it would work the way its supporters promise.`,
    ],
  },
  {
    key: 'lean-for',
    variants: [
      (aff) =>
        `On balance I think ${aff}, as long as we protect the people who could be harmed by the change.`,
    ],
  },
  {
    key: 'status-quo',
    variants: [
      () =>
        `What we have now is not perfect, but it works and people know it. I would only change it if there were overwhelming evidence.`,
    ],
  },
  {
    key: 'transparency',
    variants: [
      () =>
        `My concern is how the decision is made. It should be explained openly, with the evidence published, so people can trust it whichever way it goes.`,
    ],
  },
];

const NAMES: readonly string[] = [
  'Alex',
  'Bea',
  'Carlos',
  'Dina',
  'Emil',
  'Fatima',
  'Gus',
  'Hana',
  'Ivo',
  'Jade',
  'Kofi',
  'Lena',
  'Marco',
  'Nia',
  'Omar',
  'Priya',
];

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function pick<T>(items: readonly T[], rng: Rng): T {
  return items[Math.floor(rng.next() * items.length)] as T;
}

/**
 * A group for any question from the question bank. The first six stances (for,
 * against, conditional, pilot, cost, fairness) are always present, so every group
 * disagrees; larger groups add further stances. Same record and seed, same group.
 */
export function scenarioFromQuestion(record: QuestionRecord, options: ScenarioOptions): Scenario {
  const size = Math.min(10, Math.max(6, Math.floor(options.members ?? 7)));
  const rng = createRng(options.seed ^ hashString(record.question));
  const aff = clause(record.affirming_statement);
  const neg = clause(record.negating_statement);
  const extra = shuffled(STANCES.slice(6), rng).slice(0, size - 6);
  const stances = shuffled([...STANCES.slice(0, 6), ...extra], rng);
  const names = shuffled(NAMES, rng);
  const members = stances.map((stance, i) => {
    const name = names[i] as string;
    return {
      id: name.toLowerCase(),
      name,
      opinion: pick(stance.variants, rng)(aff, neg),
    };
  });
  return {
    id: record.id ?? `q-${hashString(record.question).toString(36)}`,
    question: record.question.trim(),
    members,
  };
}
