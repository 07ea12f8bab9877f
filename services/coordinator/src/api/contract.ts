import { Contract } from '@cps/common';
import { specFiles, type CoordinatorSchemas } from '@cps/openapi';

/** The coordinator's contract, typed by its schema names: `check('TaskId', …)` is a TaskId. */
export type CoordinatorContract = Contract<CoordinatorSchemas>;

export const coordinatorContract: CoordinatorContract = Contract.fromFile<CoordinatorSchemas>(specFiles.coordinator);
