/**
 * The policy engine's public surface: CEL, matching and risk, with no Kubernetes I/O.
 * The ExposurePolicy engine lands here (see the ExposurePolicy issue); the folder
 * exists now so the import boundary is enforced from the start.
 */
export {};
