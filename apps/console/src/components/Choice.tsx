import { Dropdown, Option } from '@fluentui/react-components';

/**
 * One value out of a fixed list, in a Field (which labels it): the Dropdown with its options, typed by
 * the list, so the page gets back one of its own values rather than Fluent's string.
 */
export function Choice<T extends string>({
  value,
  options,
  onChange,
  disabled,
  text = (option) => option,
}: {
  value: T;
  options: readonly T[];
  onChange: (value: T) => void;
  disabled?: boolean;
  /** What an option reads as, when not its value. */
  text?: (option: T) => string;
}) {
  return (
    <Dropdown value={text(value)} selectedOptions={[value]} disabled={disabled} onOptionSelect={(_, d) => onChange(d.optionValue as T)}>
      {options.map((option) => (
        <Option key={option} value={option}>
          {text(option)}
        </Option>
      ))}
    </Dropdown>
  );
}
