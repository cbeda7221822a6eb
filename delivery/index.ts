/**
 * Delivery of actions through Git: the repository side (delivery/git/: branches,
 * commits, pushes with simple-git) and the forge side (delivery/forge/: pull requests
 * on GitHub through octokit and on Gitea, and their bodies). Pure libraries; the
 * controller wires them to PreemptiveActions.
 */
export * from './git/index.js';
export * from './forge/index.js';
