/** Size limits that every adapter and the service share. */
export const LIMITS = {
  questionMaxChars: 500,
  opinionMaxChars: 4_000,
  critiqueMaxChars: 4_000,
  /**
   * Longest single reply kept as it came. Far above what counts (the joined opinion is
   * cut to opinionMaxChars) and at Slack's own message limit, so the "your opinion was
   * cut" notice can still say how long it was, while a misbehaving client cannot make
   * Redis hold megabytes per message.
   */
  replyMaxChars: 40_000,
  /**
   * Most replies one member has counted in one set (their opinion, or their critiques of
   * a version). Far above a member's share of a discussion, while one member's flood of
   * messages cannot make the round hold megabytes, nor each reply cost more than the last.
   */
  repliesPerMember: 50,
  /** Longest failure reason kept on a round and shown in its channel. */
  reasonMaxChars: 600,
  minOpinionsToClose: 2,
  minCandidates: 1,
  maxCandidates: 16,
  defaultCandidates: 8,
  maxMinutes: 7 * 24 * 60,
  /** Largest `--min-turnout`: a group bigger than this does not poll in one thread. */
  maxTurnout: 1_000,
} as const;

/**
 * How often commands may be run and rounds started, and how many rounds may be open at
 * once; 0 = no limit. The rates are counted in Redis over sliding windows (any minute
 * for commands, any hour for starts and exports), so they hold across processes.
 */
export interface CommandLimits {
  startsPerMemberPerHour: number;
  startsPerWorkspacePerHour: number;
  openRoundsPerChannel: number;
  /** Commands of every kind one member may run per minute. */
  commandsPerMemberPerMinute: number;
  commandsPerWorkspacePerMinute: number;
  /** Exports (of a round or a workspace) one member may ask for per hour, on top of the above. */
  exportsPerMemberPerHour: number;
  exportsPerWorkspacePerHour: number;
}

/**
 * Far beyond what people typing do, low enough that a script cannot flood a workspace:
 * a command a second, a round a minute, an export (five files) every three minutes per
 * member. Scripted clients (tests, integrations) share one member id and run far
 * faster than people, so the limits stop floods rather than ration normal use.
 */
export const DEFAULT_COMMAND_LIMITS: CommandLimits = {
  startsPerMemberPerHour: 60,
  startsPerWorkspacePerHour: 300,
  openRoundsPerChannel: 20,
  commandsPerMemberPerMinute: 60,
  commandsPerWorkspacePerMinute: 600,
  exportsPerMemberPerHour: 20,
  exportsPerWorkspacePerHour: 100,
};

/**
 * `end`, or one less when an emoji (or another character outside the Basic Multilingual
 * Plane, two UTF-16 units) lies across it: a cut there leaves half a character, which
 * chat clients show as � and strict JSON parsers refuse.
 */
export function wholeEnd(text: string, end: number): number {
  if (end <= 0 || end >= text.length) return end;
  const before = text.charCodeAt(end - 1);
  return before >= 0xd800 && before <= 0xdbff ? end - 1 : end;
}

/** Cuts text to at most `max` characters, marking the cut with an ellipsis. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, wholeEnd(text, Math.max(0, max - 1))).trimEnd()}…`;
}

/**
 * As `clip`, but at the end of a word when one ends in the last fifth: text shown in part
 * (a statement in the results) reads as words, not as a word cut in two.
 */
export function clipWords(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = wholeEnd(text, Math.max(0, max - 1));
  const space = text.lastIndexOf(' ', end);
  return `${text.slice(0, space > end * 0.8 ? space : end).trimEnd()}…`;
}

/**
 * "45 seconds", "20 minutes", "3 hours", "2 days": a span to come, in the unit a member
 * reads it in (a week's poll is not "10080 minutes"); rounded to the nearest.
 */
export function roughDuration(seconds: number): string {
  const [n, unit] =
    seconds < 90
      ? [Math.round(seconds), 'second']
      : seconds < 90 * 60
        ? [Math.round(seconds / 60), 'minute']
        : seconds < 36 * 3600
          ? [Math.round(seconds / 3600), 'hour']
          : [Math.round(seconds / 86_400), 'day'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** "3 minutes", "1 minute", "45 seconds": how long a member has to wait, in words. */
export function describeWait(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
