// How tests wait: the project's one helper (tools/wait.ts), here for tests to import. Tests
// synchronise on a condition or an event with waitFor, never on a sleep of a guessed length; a sleep()
// in a test is time passing as the point of the test (a stall held for N seconds, traffic paced over a
// period), with a comment saying so.
export { sleep, waitFor, type WaitOptions } from '../../tools/wait.js';
