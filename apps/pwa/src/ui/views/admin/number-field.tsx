/**
 * One labelled number input of the console's forms (invite uses and days, retention days): the field layout, the
 * numeric keyboard on phones, and the bounds the server accepts. Display only: the card keeps the value.
 */
import type { ReactElement } from 'react';

export function NumberField({
  label,
  testId,
  value,
  onChange,
  min,
  max,
  step,
  required = false,
  placeholder,
}: {
  label: string;
  testId: string;
  value: string;
  onChange: (value: string) => void;
  min: number;
  max: number;
  /** 1: whole numbers (numeric keyboard); 'any': fractions too (decimal keyboard). */
  step: 1 | 'any';
  required?: boolean;
  placeholder?: string;
}): ReactElement {
  return (
    <label className="field">
      <span>{label}</span>
      <input
        type="number"
        inputMode={step === 1 ? 'numeric' : 'decimal'}
        min={min}
        max={max}
        step={step}
        required={required}
        value={value}
        placeholder={placeholder}
        data-testid={testId}
        onChange={(e) => onChange(e.target.value)}
      />
    </label>
  );
}
