import { HASHES_PER_CALLER, PasswordHasher } from '../../app/accounts/passwordHasher.js';
import { TEST_ARGON2 } from './app.js';

/**
 * The real argon2 hasher, counting how many verifications actually ran (not those the hash queue
 * refused): lets a test prove that an unknown account costs a real verify (the timing equaliser),
 * or that a limit let no more guesses be checked than it allows, without measuring time.
 */
export class CountingHasher extends PasswordHasher {
  verifications = 0;

  /** `perCaller`: the hash-queue share of one caller (raise it to test a limit alone with a burst from one caller). */
  constructor(perCaller = HASHES_PER_CALLER) {
    super(TEST_ARGON2, undefined, undefined, perCaller);
  }

  protected override verifyNow(hash: string, password: string): Promise<boolean> {
    this.verifications++;
    return super.verifyNow(hash, password);
  }
}
