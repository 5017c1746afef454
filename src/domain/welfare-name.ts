import { z } from 'zod';

export const WelfareNameSchema = z.enum([
  'utilitarian',
  'egalitarian',
  'nash',
  'schulze',
  'bridging',
]);
export type WelfareName = z.infer<typeof WelfareNameSchema>;
