import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A small file system of its own for diskFull.test.ts, so the test can fill it, make it read-only and
// give the space back without touching the machine's disks: a loop-mounted ext4 image (the file system
// a self-hoster's server most likely has), else a size-limited tmpfs. Both need root (CI runs as root
// in a VM); when neither can be mounted the test fails and says why, it is not skipped.

export interface SmallFs {
  /** Where it is mounted. */
  dir: string;
  /** 'ext4 loop' or 'tmpfs'. */
  kind: string;
  /** Writes a filler file until the file system has no byte left; returns how many bytes it took. */
  fill(): number;
  /** Removes the filler: the space is back. */
  unfill(): void;
  /** Remounts read-only / read-write (stop every process writing there first: SQLite's shared memory would fault). */
  readOnly(): void;
  readWrite(): void;
  /** Unmounts and removes everything; safe to call more than once and after a failure. */
  release(): void;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** Mounts a file system of `megabytes` MiB; throws naming both attempts when neither works. */
export function mountSmallFs(megabytes: number): SmallFs {
  const root = mkdtempSync(join(tmpdir(), 'signalbox-diskfs-'));
  const dir = join(root, 'mnt');
  mkdirSync(dir);
  const image = join(root, 'disk.img');
  const filler = join(dir, 'filler');
  let kind: string;
  const problems: string[] = [];
  try {
    run('truncate', ['-s', `${megabytes}M`, image]);
    // -m 0: no blocks kept for root, so "full" means full for the server (which the test runs as root).
    run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    run('mount', ['-o', 'loop', image, dir]);
    kind = 'ext4 loop';
  } catch (err) {
    problems.push(`ext4 loop: ${(err as Error).message}`);
    try {
      run('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m,mode=0700`, 'tmpfs', dir]);
      kind = 'tmpfs';
    } catch (err2) {
      problems.push(`tmpfs: ${(err2 as Error).message}`);
      rmSync(root, { recursive: true, force: true });
      throw new Error(`cannot mount a small file system (root is needed): ${problems.join('; ')}`);
    }
  }
  let mounted = true;
  return {
    dir,
    kind,
    fill() {
      const fd = openSync(filler, 'a');
      let written = 0;
      try {
        // Big chunks first, then smaller ones down to one byte: every last block goes.
        for (let chunk = 1024 * 1024; chunk >= 1; chunk = Math.floor(chunk / 4)) {
          const bytes = Buffer.alloc(chunk, 0x5a);
          for (;;) {
            try {
              written += writeSync(fd, bytes);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw err;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    unfill() {
      rmSync(filler, { force: true });
    },
    readOnly() {
      run('mount', ['-o', 'remount,ro', dir]);
    },
    readWrite() {
      run('mount', ['-o', 'remount,rw', dir]);
    },
    release() {
      if (mounted) {
        try {
          run('umount', [dir]);
        } catch {
          // Still busy (a process left behind): detach it now, the kernel frees it once unused.
          run('umount', ['-l', dir]);
        }
        mounted = false;
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}
