/** ATT&CK coverage of Forestall's actions (issue 17): the public surface of report/attack. */
export {
  ATTACK,
  MITIGATIONS_BY_ACTION_TYPE,
  mitigationsFor,
  techniquesFor,
  type AttackData,
  type AttackMitigation,
  type AttackTactic,
  type AttackTechnique,
} from './catalog.js';
export {
  attackLayer,
  emptyCoverage,
  LAYER_VERSION,
  NAVIGATOR_VERSION,
  tacticCoverage,
  type AttackLayerOptions,
  type LayerTechnique,
  type NavigatorLayer,
} from './layer.js';
