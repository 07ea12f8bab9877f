import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTwoFilesPatch } from 'diff';
import { parseCmdList } from './cmdlist.ts';
import { World } from './world.ts';

/** packages/head/scenarios: one folder a scenario, each with `cmdlist` and `log.expect`. */
export const scenariosDir = fileURLToPath(new URL('../../scenarios/', import.meta.url));

export async function scenarioNames(): Promise<string[]> {
  const entries = await readdir(scenariosDir, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

/** Runs one scenario's cmdlist; returns the event log it produced. */
export async function runScenario(name: string): Promise<string> {
  return runCmdList(await readCmdList(name));
}

export const readCmdList = (name: string) => readFile(join(scenariosDir, name, 'cmdlist'), 'utf8');

/** Runs a command list given as text; returns the event log. */
export const runCmdList = (text: string): Promise<string> => new World(parseCmdList(text)).run();

export async function expectedLog(name: string): Promise<string | undefined> {
  try {
    return await readFile(join(scenariosDir, name, 'log.expect'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export const writeExpected = (name: string, log: string) => writeFile(join(scenariosDir, name, 'log.expect'), log);

/** The unified diff from the expected log to the produced one; '' when they are the same. */
export function logDiff(name: string, expected: string, actual: string): string {
  return expected === actual ? '' : createTwoFilesPatch(`${name}/log.expect`, `${name}/log.actual`, expected, actual);
}
