// The images of the real-node cluster, built by test/e2e/toolchain/images.sh (its own dockerd, base
// images made from Debian and Node.js, the project's Dockerfile, the pause image), saved in one tar.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../toolchain.js';

export interface ClusterImages {
  /** The tar of both images, for `ctr images import`. */
  tar: string;
  /** The project's image (operator and reflectors). */
  image: string;
  /** The same image under another name: what a roll-out changes spec.reflector.image to. */
  nextImage: string;
  /** The sandbox image (sleeps forever). */
  pause: string;
}

/** Runs images.sh (progress on this process's stderr) and returns what it built. */
export function buildClusterImages(): Promise<ClusterImages> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(projectRoot, 'test/e2e/toolchain/images.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const [tar, image, nextImage, pause] = out.trim().split('\n').slice(-4);
      if (code === 0 && tar && image && nextImage && pause) resolve({ tar, image, nextImage, pause });
      else reject(new Error(`test/e2e/toolchain/images.sh failed (exit ${code}); see its output above`));
    });
  });
}
