/**
 * Connectors (enforcement points), one folder per connectors/<layer>/<name>/. None is
 * implemented yet; the folder exists now so the import boundary is enforced from the start.
 */
export {};
