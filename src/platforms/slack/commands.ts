import { z } from 'zod';
import type { RoundTarget } from '../../deliberation/service.js';
import { repostText } from '../../deliberation/views.js';
import { DomainError } from '../../domain/errors.js';
import type { Log } from '../../domain/log.js';
import type { RoundSettings } from '../../domain/round.js';
import type { Scope } from '../../domain/scope.js';
import {
  resultsBlocks,
  resultsSummary,
  type SlackMessage,
  startModal,
  statusText,
} from './blocks.js';
import type { BotUsers } from './bot-users.js';
import { helpText, type ParsedCommand, usageOf, validateStart } from './command.js';
import { exportRound, exportWorkspace } from './export.js';
import type { Moderators } from './moderators.js';
import { describe, type SlackPort } from './port.js';
import type { SlackService } from './service.js';
import { escapeKeepingMentions, escapeText } from './text.js';

export interface CommandDeps {
  service: SlackService;
  port: SlackPort;
  moderators: Moderators;
  bots: BotUsers;
  log: Log;
}

/** Said to a member who may not start a round: who may, so they know whom to ask. */
export const START_REFUSAL =
  'Only moderators may start a round in this workspace: its admins and owners, and the members the bot’s operator made moderators. Ask one of them to start it.';

/** A slash command as the handlers need it. */
export interface CommandInput {
  scope: Scope;
  channelId: string;
  userId: string;
  /** As the member typed it (`/consensus`, or whatever the workspace named it). */
  command: string;
  triggerId: string | null;
  /** The command's response_url: answers the member wherever they typed it, DMs included. */
  responseUrl: string | null;
}

/** What the member is told, only them: a line of text, or blocks with a text fallback. */
export type Reply = { text: string; blocks?: SlackMessage['blocks'] };

/**
 * How long `/consensus` alone waits for the command count before opening the form anyway.
 * Redis answers in a millisecond or two; during a blip the count waits for it to come
 * back, and the form's trigger_id expires 3 s after the command.
 */
export const FORM_COUNT_WAIT_MS = 500;

/** Words for the member when something is not theirs to fix. */
const SORRY = 'Sorry, something went wrong on my side. Please try again in a moment.';

/** Runs a parsed command after it was acknowledged; never throws. */
export async function runCommand(
  parsed: Exclude<ParsedCommand, { kind: 'invalid' | 'help' }>,
  input: CommandInput,
  deps: CommandDeps,
): Promise<Reply | null> {
  try {
    return await execute(parsed, input, deps);
  } catch (error) {
    return explain(error, deps.log, parsed.kind);
  }
}

function explain(error: unknown, log: Log, what: string): Reply {
  if (error instanceof DomainError) return { text: escapeKeepingMentions(error.message) };
  log.error({ command: what, error: describe(error) }, 'slash command failed');
  return { text: SORRY };
}

async function execute(
  parsed: Exclude<ParsedCommand, { kind: 'invalid' | 'help' }>,
  input: CommandInput,
  deps: CommandDeps,
): Promise<Reply | null> {
  const { service, moderators } = deps;
  const { scope, channelId, userId, command } = input;
  const admission = service.admitCommand({
    scope,
    userId,
    command: parsed.kind,
    isExport: parsed.kind === 'export' || parsed.kind === 'exportWorkspace',
  });
  if (parsed.kind === 'modal' && input.triggerId) {
    return openForm(admission, input.triggerId, input, deps);
  }
  await admission;
  if (parsed.kind === 'modal') {
    return { text: `Write the question: ${usageOf(command, 'start')}` };
  }
  if (parsed.kind === 'start') {
    return {
      text: await startRound(
        { ...input, question: parsed.question, settings: parsed.settings },
        deps,
      ),
    };
  }
  if (parsed.kind === 'exportWorkspace') return exportWorkspace(input, deps);
  const target: RoundTarget = { scope, channelId, roundId: parsed.roundId };
  if (parsed.kind === 'close' || parsed.kind === 'critique' || parsed.kind === 'finish') {
    const away = await awayFrom(target, deps);
    if (away) return { text: away };
  }
  switch (parsed.kind) {
    case 'close': {
      const actor = await moderators.forModeration(scope.workspaceId, userId);
      const round = await service.close(target, actor);
      if (round.phase === 'polling') return { text: repostText(round.id) };
      return {
        text:
          round.version === 0
            ? `:lock: Round \`${round.id}\` is closed. I am writing and ranking candidate statements; progress shows in its thread.`
            : `:lock: Critiques of round \`${round.id}\` are closed. A revised statement follows in its thread.`,
      };
    }
    case 'critique': {
      const actor = await moderators.forModeration(scope.workspaceId, userId);
      const round = await service.critique(target, actor);
      return {
        text: `:pencil2: Round \`${round.id}\` takes critiques now: replies in its thread count as critiques until \`${command} close\`.`,
      };
    }
    case 'finish': {
      const actor = await moderators.forModeration(scope.workspaceId, userId);
      const results = await service.finish(target, actor);
      return {
        text: `:checkered_flag: Round \`${results.roundId}\` is finished; the results are in its thread.`,
      };
    }
    case 'cancel': {
      const actor = await moderators.forModeration(scope.workspaceId, userId);
      const round = await service.cancel(target, actor);
      return { text: `Round \`${round.id}\` is cancelled.` };
    }
    case 'extend': {
      const actor = await moderators.forModeration(scope.workspaceId, userId);
      const round = await service.extend(target, actor, parsed.minutes);
      return {
        text: `:hourglass_flowing_sand: Round \`${round.id}\` stays open until <!date^${Math.floor((round.deadline ?? 0) / 1000)}^{date_short_pretty} {time}|${new Date(round.deadline ?? 0).toISOString()}>.`,
      };
    }
    case 'status':
      return { text: statusText(await service.status(target)) };
    case 'results': {
      const view = await service.results(target);
      return { text: `Results: ${resultsSummary(view)}`, blocks: resultsBlocks(view) };
    }
    case 'export':
      return exportRound(target, input, deps);
  }
}

/**
 * Why a step that posts in the round's channel (progress, statement, invitation, results)
 * cannot run now: the bot was removed from that channel. Taken anyway, the step's post is
 * refused and the round is cancelled, while the moderator was told it went ahead; refused
 * here, the round waits until the bot is invited back. Null when the step may run.
 */
async function awayFrom(target: RoundTarget, deps: CommandDeps): Promise<string | null> {
  const { roundId, channelId } = await deps.service.status(target);
  if ((await deps.port.channelAccess(channelId)) !== 'not_member') return null;
  return (
    `I am no longer in the channel of round \`${roundId}\`, so I could not post there. ` +
    'Add me back (mention me and choose “Invite”), then try again.'
  );
}

/**
 * `/consensus` alone. The form opens before anything slow: its trigger_id expires 3 s
 * after the command, and a users.info lookup (SLACK_MODERATORS) can take longer, so who
 * may start is checked on submit. The command is counted like any other, but opening a
 * form waits for the count only briefly: a refusal that comes later is let go, since the
 * submission is a start, limited as one, and the form alone does nothing.
 */
async function openForm(
  admission: Promise<void>,
  triggerId: string,
  input: CommandInput,
  deps: CommandDeps,
): Promise<null> {
  const counted = admission.then(
    () => ({ error: null }),
    (error: unknown) => ({ error }),
  );
  let timer: NodeJS.Timeout | undefined;
  const early = await Promise.race([
    counted,
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), FORM_COUNT_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
  // Refused (or failed) while the member waits: say so, and open nothing.
  if (early !== null && early.error !== null) throw early.error;
  if (early === null) {
    // Let go, but not lost: a failure that is not a refusal is still worth a line.
    void counted.then(({ error }) => {
      if (error !== null && !(error instanceof DomainError)) {
        deps.log.warn(
          { error: describe(error) },
          'counting /consensus failed after the form opened',
        );
      }
    });
  }
  await deps.port.openModal(
    triggerId,
    startModal({ channelId: input.channelId, responseUrl: input.responseUrl }),
  );
  return null;
}

/** Starts a round from the command line or the form; returns what to tell the member. */
export async function startRound(
  input: CommandInput & { question: string; settings: Partial<RoundSettings> },
  deps: CommandDeps,
): Promise<string> {
  const actor = await deps.moderators.forStart(input.scope.workspaceId, input.userId);
  if (!actor.mayStart) return START_REFUSAL;
  const access = await deps.port.channelAccess(input.channelId);
  if (access === 'not_a_channel') {
    return 'Rounds run in channels, where members can reply in a thread. Start one in a channel.';
  }
  if (access === 'archived') return 'This channel is archived: start the round in another one.';
  if (access === 'not_member') {
    return (
      'I am not in this channel, so I could not read the replies. Add me first ' +
      '(mention me and choose “Invite”, or use the channel’s Integrations tab), then start again.'
    );
  }
  const round = await deps.service.start({
    scope: input.scope,
    channelId: input.channelId,
    actor,
    question: input.question,
    settings: input.settings,
  });
  return (
    `:white_check_mark: Round \`${round.id}\` started: ${escapeText(round.question)}\n` +
    `Replies in the question’s thread are opinions; \`${input.command} close\` ends the opinion phase.`
  );
}

/** The start form was submitted: start the round, and say how it went. Never throws. */
export async function startFromForm(
  input: CommandInput & { question: string; settings: Partial<RoundSettings> },
  deps: CommandDeps,
): Promise<string> {
  try {
    return await startRound(input, deps);
  } catch (error) {
    return explain(error, deps.log, 'start form').text;
  }
}

export function helpReply(command: string): Reply {
  return { text: helpText(command) };
}

// ---- the start form -------------------------------------------------------------------

const TextInput = z.object({ value: z.string().nullish() });
const SelectInput = z.object({ selected_option: z.object({ value: z.string() }).nullish() });

const StartFormSchema = z.object({
  private_metadata: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'bad metadata' });
        return z.NEVER;
      }
    })
    .pipe(z.object({ channelId: z.string().min(1), responseUrl: z.string().nullish() })),
  state: z.object({
    values: z.object({
      question: z.object({ value: TextInput }),
      candidates: z.object({ value: TextInput }).optional(),
      minutes: z.object({ value: TextInput }).optional(),
      welfare: z.object({ value: SelectInput }).optional(),
      scale: z.object({ value: SelectInput }).optional(),
    }),
  }),
});

export type StartForm =
  | {
      ok: true;
      channelId: string;
      /** The opening command's response_url, to answer the submission through. */
      responseUrl: string | null;
      question: string;
      settings: Partial<RoundSettings>;
    }
  | { ok: false; errors: Record<string, string> };

/** The submitted form, or errors keyed by block id for `response_action: 'errors'`. */
export function readStartForm(view: unknown): StartForm {
  const parsed = StartFormSchema.safeParse(view);
  if (!parsed.success)
    return { ok: false, errors: { question: 'The form could not be read; please open it again.' } };
  const v = parsed.data.state.values;
  const blank = (s: string | null | undefined) =>
    s === null || s === undefined || s.trim() === '' ? undefined : s.trim();
  const checked = validateStart({
    question: v.question.value.value ?? '',
    candidates: blank(v.candidates?.value.value),
    minutes: blank(v.minutes?.value.value),
    welfare: v.welfare?.value.selected_option?.value,
    scale: v.scale?.value.selected_option?.value,
  });
  if (!checked.ok) {
    // The form has no flags: "--minutes takes …" reads as "Minutes takes …".
    const message = checked.message.replace(/^--(\w)/, (_, c: string) => c.toUpperCase());
    return { ok: false, errors: { [checked.field]: message } };
  }
  return {
    ok: true,
    channelId: parsed.data.private_metadata.channelId,
    responseUrl: parsed.data.private_metadata.responseUrl ?? null,
    question: checked.question,
    settings: checked.settings,
  };
}
