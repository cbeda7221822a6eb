/** The PreemptiveAction's condition types. */
export const ActionCondition = {
  Ready: 'Ready',
  Approved: 'Approved',
  Recorded: 'Recorded',
  Notified: 'Notified',
  Excepted: 'Excepted',
} as const;

/** The reasons its conditions give, one list for the kind. */
export const ActionReason = {
  Enforced: 'Enforced',
  AwaitingApproval: 'AwaitingApproval',
  AutoApproved: 'AutoApproved',
  /** A person approved it (forestall approve). */
  ApprovedByPerson: 'ApprovedByPerson',
  UpdateAwaitingApproval: 'UpdateAwaitingApproval',
  Expired: 'Expired',
  Lifted: 'Lifted',
  InvalidAction: 'InvalidAction',
  /** A hand-written action names an indicator the guardrails refuse. */
  GuardrailRefused: 'GuardrailRefused',
  UnknownConnector: 'UnknownConnector',
  ApplyFailed: 'ApplyFailed',
  WaitingForIndicators: 'WaitingForIndicators',
  AwaitingReview: 'AwaitingReview',
  AwaitingSync: 'AwaitingSync',
  Merged: 'Merged',
  Rejected: 'Rejected',
  DeliveryFailed: 'DeliveryFailed',
  RemovalProposed: 'RemovalProposed',
  RemovalCommitted: 'RemovalCommitted',
  Recorded: 'Recorded',
  NotificationSent: 'NotificationSent',
  NotificationFailed: 'NotificationFailed',
  /** ThreatExceptions left indicators out (spec.exceptions). */
  Excepted: 'Excepted',
  NotExcepted: 'NotExcepted',
} as const;
