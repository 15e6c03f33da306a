import { Area, AreaChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { tokens } from '@fluentui/react-components';

export interface ProgressPoint {
  at: string;
  migrated: number;
  pending: number;
}

const time = (iso: string) => new Date(iso).toLocaleTimeString();

/** R28: migrated and pending devices over time since the change (recharts, loaded with the dashboard only). */
export default function MigrationChart({ points }: { points: ProgressPoint[] }) {
  return (
    <ResponsiveContainer width="100%" height={260}>
      <AreaChart data={points} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="at" tickFormatter={time} minTickGap={40} />
        <YAxis allowDecimals={false} />
        <Tooltip labelFormatter={(label) => time(String(label))} />
        <Legend />
        <Area type="stepAfter" dataKey="migrated" name="Migrated" stackId="1" stroke={tokens.colorPaletteGreenBorderActive} fill={tokens.colorPaletteGreenBackground2} isAnimationActive={false} />
        <Area type="stepAfter" dataKey="pending" name="Pending check-in" stackId="1" stroke={tokens.colorPaletteMarigoldBorderActive} fill={tokens.colorPaletteMarigoldBackground2} isAnimationActive={false} />
      </AreaChart>
    </ResponsiveContainer>
  );
}
