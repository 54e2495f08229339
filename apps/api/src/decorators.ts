/**
 * `@OnJob(JobName.X)` marks a service method as the handler of a job. `JobService` discovers the marks at start and
 * refuses to start when a job has no handler or more than one. This module only records metadata.
 */
import { SetMetadata } from '@nestjs/common';

import type { JobName } from './enum.js';

export const ON_JOB_METADATA = 'cove:on-job';

export const OnJob = (name: JobName): MethodDecorator => SetMetadata(ON_JOB_METADATA, name);
