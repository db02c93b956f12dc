import type { Suite } from '../lib/suite.js';

export const operatorSuite: Suite = {
  name: 'operator',
  description: 'todo',
  run() {
    return Promise.reject(new Error('not written yet'));
  },
};
