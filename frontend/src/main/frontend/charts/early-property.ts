/**
 * A property the server sets before an element's class is defined lands on the instance itself and hides the
 * class's setter. Takes such a value off the instance and returns it (undefined when there was none), so the
 * element can apply it once it is connected.
 */
export function takeEarlyProperty(el: HTMLElement, name: string): any {
  if (!Object.prototype.hasOwnProperty.call(el, name)) return undefined;
  const v = (el as any)[name];
  delete (el as any)[name];
  return v;
}
