import { MessageBar, MessageBarBody, MessageBarTitle } from '@fluentui/react-components';
import { ApiError } from '../api/client';

/** A refusal as the API gave it: its code and message. */
export function ErrorBar({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const code = error instanceof ApiError ? error.code : 'ERROR';
  const message = error instanceof Error ? error.message : String(error);
  return (
    <MessageBar intent="error" role="alert">
      <MessageBarBody>
        <MessageBarTitle>{title ?? code}</MessageBarTitle>
        {title ? `${code}: ${message}` : message}
      </MessageBarBody>
    </MessageBar>
  );
}
