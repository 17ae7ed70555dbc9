// The reference estate's public API (docs/estate.md): the controller behind `interlock estate`, its
// state file, and the Interlock configuration that manages it. Listed by hand: anything added here
// becomes public API.
export { down, estateInterlockEnv, findEstateBinaries, heal, inject, status, up, type EstateBinaries, type EstateChange, type EstateDownResult, type EstateStatus, type EstateUpOptions, type EstateUpResult } from './estate.js';
export { ESTATE_FAULTS, ESTATE_PACKAGES, ESTATE_RELEASES, ESTATE_SERVICE_PROGRAMS, ESTATE_SERVICES, FAULT_SETTINGS, type EstateFault, type EstatePaths } from './estate-layout.js';
export { readEstateState, type EstateInjection, type EstatePorts, type EstateState } from './estate-state.js';
export { DATABASE_URL_ENV, ESTATE_DIAGNOSIS_QUERIES, estateInterlockConfig, estateTargets, SUPERVISOR_PASSWORD_ENV, type EstateInterlockOptions, type EstateServiceTargets } from './interlock-config.js';
