import { MessageBar, MessageBarBody, MessageBarTitle } from '@fluentui/react-components';

/** A secret the API shows only once (a token, a device credential): displayed here, kept nowhere. */
export function ShownOnce({ title, secret, testId }: { title: string; secret: string; testId?: string }) {
  return (
    <MessageBar intent="success" layout="multiline">
      <MessageBarBody>
        <MessageBarTitle>{title}</MessageBarTitle>
        Copy it now: it is not shown again. <code data-testid={testId}>{secret}</code>
      </MessageBarBody>
    </MessageBar>
  );
}
