/**
 * `/consensus export`: one round into its thread, where the channel already sees it, or
 * with `all` every round of the workspace into the moderator's direct message with the
 * bot, since it holds the rounds of channels others are not in.
 */
import {
  type ExportFile,
  POLIS_FOLDER_NOTE,
  roundExportFiles,
  workspaceExportFiles,
} from '../../deliberation/export-files.js';
import type { RoundTarget } from '../../deliberation/service.js';
import type { CommandDeps, CommandInput, Reply } from './commands.js';
import { slackErrorCode } from './port.js';
import { mention } from './text.js';

const asUpload = (f: ExportFile) => ({ filename: f.name, content: f.content });

export async function exportRound(
  target: RoundTarget,
  input: CommandInput,
  deps: CommandDeps,
): Promise<Reply> {
  const data = await deps.service.export(target);
  const { round } = data;
  const files = roundExportFiles(data);
  const threadTs = round.questionRef?.messageId ?? null;
  await deps.port.uploadText({
    channel: round.channelId,
    threadTs,
    filename: files.json.name,
    content: files.json.content,
    // The upload is public: in an anonymous round it must not say who asked.
    comment: round.settings.anonymous
      ? `Export of round \`${round.id}\`.`
      : `Export of round \`${round.id}\`, asked for by ${mention(input.userId)}.`,
  });
  await deps.port.uploadTexts({
    channel: round.channelId,
    threadTs,
    files: files.polis.map(asUpload),
    comment: `The same round in the Polis export layout: ${POLIS_FOLDER_NOTE}.`,
  });
  return { text: `The export of round \`${round.id}\` is in its thread.` };
}

/** Who may export the whole workspace, in words a member reads (see Moderators). */
export const WORKSPACE_EXPORT_REFUSAL =
  'Only the moderators set in the bot’s configuration (`SLACK_MODERATORS`) and the ' +
  'workspace’s owners may export the whole workspace: it holds the rounds of every channel, ' +
  'private ones included, which admins cannot read. ' +
  'To export one round, give its id, or run the command in its channel.';

export async function exportWorkspace(input: CommandInput, deps: CommandDeps): Promise<Reply> {
  const actor = await deps.moderators.forWorkspaceExport(input.scope.workspaceId, input.userId);
  // Refused here, in Slack's terms; the service's own check is the backstop.
  if (!actor.moderator) return { text: WORKSPACE_EXPORT_REFUSAL };
  const rounds = await deps.service.exportWorkspace(input.scope, actor);
  if (rounds.length === 0) return { text: 'This workspace has no rounds to export yet.' };
  const files = workspaceExportFiles(input.scope, rounds);
  const what = `every round of this workspace (${rounds.length} round${rounds.length === 1 ? '' : 's'})`;
  try {
    await deps.port.uploadTextsToMember({
      user: input.userId,
      files: [files.json, ...files.polis].map(asUpload),
      comment: `Export of ${what}, as JSON and in the Polis export layout: ${POLIS_FOLDER_NOTE}.`,
    });
  } catch (error) {
    // The app's admin fixes this one, not the moderator: say what to do.
    if (slackErrorCode(error) !== 'missing_scope') throw error;
    deps.log.warn({ command: 'export all' }, 'conversations.open needs the im:write scope');
    return {
      text:
        'I could not send you a direct message: the app lacks the `im:write` scope. ' +
        'An admin can add it (manifest.json has it) and reinstall the app.',
    };
  }
  return { text: `The export of ${what} is in your direct messages with me.` };
}
