import type { Db } from '../sqlite/database.js';
import type { CloudJobSchedule } from '../../domain/batch/models.js';
import { EntityTable } from './entityTable.js';

/** batch_job_schedules: an account's job schedules, by case-insensitive id. */
export class JobScheduleTable extends EntityTable<CloudJobSchedule> {
  constructor(db: Db) {
    super(db, { table: 'batch_job_schedules', parent: 'account', hasPk: true });
  }
}
