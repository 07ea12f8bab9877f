import { hash, verify, type Algorithm, type Options } from '@node-rs/argon2';

// Algorithm.Argon2id: a const enum, which this build (verbatimModuleSyntax) cannot read as a value.
const argon2id = 2 as Algorithm.Argon2id;

/**
 * OWASP Password Storage Cheat Sheet, argon2id: 19 MiB of memory, 2 passes, 1 lane (the first of
 * its equivalent settings). The one place these are set; a stored hash carries its own parameters,
 * so raising them later leaves old hashes verifiable.
 */
export const argon2idParams: Options = {
  algorithm: argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

export const hashPassword = (password: string): Promise<string> => hash(password, argon2idParams);

/** False for a wrong password and for a hash that is not a PHC string (never throws on input). */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}
