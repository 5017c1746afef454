import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The Habermas Machine question bank (CC BY 4.0, see data/habermas-questions/README.md). */
export const QuestionRecordSchema = z.object({
  id: z.string(),
  question: z.string().min(1),
  affirming_statement: z.string().min(1),
  negating_statement: z.string().min(1),
  topic: z.number().int(),
  split: z.string(),
});
export type BankQuestion = z.infer<typeof QuestionRecordSchema>;

const BANK_PATH = fileURLToPath(
  new URL('../../data/habermas-questions/questions.json', import.meta.url),
);

export function loadQuestionBank(path: string = BANK_PATH): BankQuestion[] {
  return z.array(QuestionRecordSchema).parse(JSON.parse(readFileSync(path, 'utf8')));
}
