/**
 * The history transfer's progress while linking, on either screen (`history-transfer-progress`): what is happening
 * and how far, as a bar with its percentage. It shows a report; it starts or decides nothing.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { HistoryProgressView } from '../../../app/model.js';

export function HistoryProgress({ progress }: { progress: HistoryProgressView }): ReactElement {
  const { t } = useTranslation();
  const label = t(`linking.historyPhases.${progress.phase}`);
  return (
    <div
      className="history-progress"
      role="status"
      aria-live="polite"
      data-testid="history-transfer-progress"
      data-phase={progress.phase}
    >
      <p>{label}</p>
      <progress max={100} value={progress.percent} aria-label={label} />
    </div>
  );
}
