// A link to a console route ("/devices/42" → "#/devices/42").
export function Link({ to, children, ...rest }) {
  return (
    <a href={`#${to}`} {...rest}>
      {children}
    </a>
  );
}
