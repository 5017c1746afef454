import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The layer table of docs/architecture.md, enforced: a file may import only the layers
 * (and packages) its folder is allowed. Imports point down the list only.
 */
const SRC = resolve(import.meta.dirname, '../../src');

const RULES: Record<string, { layers: string[]; packages: RegExp }> = {
  domain: { layers: ['domain'], packages: /^zod$/ },
  models: {
    layers: ['domain', 'models'],
    packages: /^(zod|openai(\/.*)?|wink-nlp|wink-eng-lite-web-model)$/,
  },
  store: { layers: ['domain', 'store'], packages: /^(zod|ioredis)$/ },
  pipeline: {
    layers: ['domain', 'models', 'store', 'pipeline'],
    packages: /^(zod|bullmq|ioredis)$/,
  },
  deliberation: {
    layers: ['domain', 'store', 'pipeline', 'deliberation'],
    packages: /^(zod|ioredis|bullmq|csv-stringify(\/.*)?)$/,
  },
  platforms: {
    layers: ['domain', 'deliberation', 'platforms'],
    packages: /^(zod|@slack\/.*|discord\.js|undici|ws|@resvg\/resvg-js)$/,
  },
  eval: { layers: ['domain', 'models', 'eval'], packages: /^(zod|csv-parse(\/.*)?)$/ },
  app: {
    layers: ['domain', 'models', 'store', 'pipeline', 'deliberation', 'platforms', 'eval', 'app'],
    packages: /.*/,
  },
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(source: string): string[] {
  const found: string[] = [];
  const pattern =
    /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (const match of source.matchAll(pattern)) found.push((match[1] ?? match[2]) as string);
  return found;
}

describe('layers', () => {
  const violations: string[] = [];
  for (const file of files(SRC)) {
    const layer = relative(SRC, file).split('/')[0] as string;
    const rule = RULES[layer];
    if (!rule) {
      violations.push(`${relative(SRC, file)}: folder "${layer}" is not a known layer`);
      continue;
    }
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('node:')) {
        // The domain is pure: no I/O, so no Node built-ins either.
        if (layer === 'domain') violations.push(`${relative(SRC, file)} imports ${spec}`);
        continue;
      }
      if (spec.startsWith('.')) {
        const target = relative(SRC, resolve(file, '..', spec)).split('/')[0] as string;
        if (!rule.layers.includes(target))
          violations.push(`${relative(SRC, file)} imports ${target} (${spec})`);
      } else if (!rule.packages.test(spec)) {
        violations.push(`${relative(SRC, file)} imports package ${spec}`);
      }
    }
  }

  it('every import points down the layer table', () => {
    expect(violations).toEqual([]);
  });

  it('the checker sees imports at all (guards against a regex that matches nothing)', () => {
    expect(importsOf("import { z } from 'zod';\nexport { a } from './a.js';")).toEqual([
      'zod',
      './a.js',
    ]);
  });
});
