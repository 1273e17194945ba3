import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import { minutes, parseDuration } from '../duration.js';
import { touch, type CloudPool } from '../models.js';
import { validateModel, type Json } from '../schema/validate.js';
import { autoScaleNotEvaluated, reconcileAllocation } from './allocation.js';
import { getLivePool } from './lookup.js';

function checkFormula(formula: unknown): void {
  if (typeof formula === 'string' && formula.trim() === '') throw batchErrors.invalidAutoScalingSettings('The autoscale formula is empty.');
}

/** POST /pools/{id}/enableautoscale: the formula is stored (evaluating it is not implemented). */
export function enableAutoScale(ctx: BatchContext, poolId: string, body: Json, ifMatch?: (pool: CloudPool) => void): CloudPool {
  const params = validateModel('PoolEnableAutoScaleParameter', body ?? {});
  checkFormula(params['autoScaleFormula']);
  const interval = params['autoScaleEvaluationInterval'];
  if (typeof interval === 'string') {
    const ms = parseDuration(interval)!;
    if (ms < minutes(5) || ms > minutes(168 * 60)) throw batchErrors.invalidProperty('autoScaleEvaluationInterval', interval, 'The interval must be between 5 minutes and 168 hours.');
  }
  return ctx.store.tx(() => {
    const { doc } = getLivePool(ctx, poolId);
    ifMatch?.(doc);
    const formula = (params['autoScaleFormula'] as string | undefined) ?? doc.autoScaleFormula;
    if (formula === undefined) throw batchErrors.missingProperty('autoScaleFormula');
    if (doc.allocationState !== 'steady') throw batchErrors.poolBeingResized();
    doc.enableAutoScale = true;
    doc.autoScaleFormula = formula;
    doc.autoScaleEvaluationInterval = (interval as string | undefined) ?? doc.autoScaleEvaluationInterval ?? 'PT15M';
    doc['autoScaleRun'] = autoScaleNotEvaluated(ctx);
    reconcileAllocation(ctx, doc);
    ctx.store.pools.update(ctx.account, doc);
    return doc;
  });
}

/** POST /pools/{id}/disableautoscale: the pool keeps its current size as its targets. */
export function disableAutoScale(ctx: BatchContext, poolId: string): CloudPool {
  return ctx.store.tx(() => {
    const { doc } = getLivePool(ctx, poolId);
    if (doc.enableAutoScale) {
      doc.enableAutoScale = false;
      delete doc.autoScaleFormula;
      delete doc.autoScaleEvaluationInterval;
      delete doc['autoScaleRun'];
      doc.targetDedicatedNodes = doc.currentDedicatedNodes;
      doc.targetLowPriorityNodes = doc.currentLowPriorityNodes;
      doc.resizeTimeout = doc.resizeTimeout ?? 'PT15M';
    }
    reconcileAllocation(ctx, doc);
    touch(doc, ctx.now);
    ctx.store.pools.update(ctx.account, doc);
    return doc;
  });
}

/** POST /pools/{id}/evaluateautoscale: an AutoScaleRun that says, honestly, that nothing was evaluated. */
export function evaluateAutoScale(ctx: BatchContext, poolId: string, body: Json): ReturnType<typeof autoScaleNotEvaluated> {
  const params = validateModel('PoolEvaluateAutoScaleParameter', body);
  checkFormula(params['autoScaleFormula']);
  const { doc } = getLivePool(ctx, poolId);
  if (!doc.enableAutoScale) {
    throw batchErrors.operationInvalidForCurrentState('Autoscale must be enabled on the pool to evaluate a formula.');
  }
  return autoScaleNotEvaluated(ctx);
}
