import type { ReactNode } from 'react';
import { Table, TableBody, TableCell, TableHeader, TableHeaderCell, TableRow } from '@fluentui/react-components';

export interface Column<T> {
  header: string;
  cell(row: T): ReactNode;
  /** A test id on the column's cells. */
  testId?: string;
}

/** A list page's table: one header row, one row per item; every list of the console has this shape. */
export function DataTable<T>({ label, columns, rows, rowKey, rowTestId }: { label: string; columns: Column<T>[]; rows: T[]; rowKey(row: T, index: number): string; rowTestId?: string }) {
  return (
    <Table size="small" aria-label={label}>
      <TableHeader>
        <TableRow>
          {columns.map((c) => (
            <TableHeaderCell key={c.header}>{c.header}</TableHeaderCell>
          ))}
        </TableRow>
      </TableHeader>
      <TableBody>
        {rows.map((row, i) => (
          <TableRow key={rowKey(row, i)} data-testid={rowTestId}>
            {columns.map((c) => (
              <TableCell key={c.header} data-testid={c.testId}>
                {c.cell(row)}
              </TableCell>
            ))}
          </TableRow>
        ))}
      </TableBody>
    </Table>
  );
}
