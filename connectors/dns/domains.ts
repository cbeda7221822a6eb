/**
 * Domain names for the DNS connectors: checked strictly (they end up inside a Corefile
 * and a zone file, where a stray brace, space or newline would change the meaning of the
 * configuration), lower-cased, and reduced to a minimal list: a name under another
 * listed name is dropped, since blocking a domain blocks its subdomains too.
 */

export interface DomainList {
  /** Sorted, unique, none under another. */
  domains: string[];
  problems: string[];
}

/** LDH labels plus underscore (service labels such as _dmarc), 1..63 characters, no leading or trailing hyphen. */
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;
const MAX_LISTED_PROBLEMS = 5;

export function normaliseDomains(values: readonly string[]): DomainList {
  const bad: string[] = [];
  const tooBroad: string[] = [];
  const names = new Set<string>();
  values.forEach((raw, index) => {
    const name = raw.trim().toLowerCase().replace(/\.$/, '');
    const labels = name.split('.');
    if (name.length === 0 || name.length > 253 || !labels.every((label) => LABEL.test(label))) {
      bad.push(`values[${index}] "${raw}"`);
    } else if (labels.length < 2) {
      tooBroad.push(`values[${index}] "${raw}"`);
    } else {
      names.add(name);
    }
  });
  const problems: string[] = [];
  if (bad.length > 0)
    problems.push(
      `${list(bad)} ${bad.length === 1 ? 'is not a domain name' : 'are not domain names'} (letters, digits, hyphens and underscores in dot-separated labels; IDNs in their xn-- form)`,
    );
  if (tooBroad.length > 0)
    problems.push(
      `${list(tooBroad)} ${tooBroad.length === 1 ? 'is a top-level domain' : 'are top-level domains'}; blocking a whole TLD is refused`,
    );
  const domains = [...names].filter((name) => !hasListedParent(name, names)).sort();
  return { domains, problems };
}

function hasListedParent(name: string, names: ReadonlySet<string>): boolean {
  for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
    const parent = name.slice(dot + 1);
    if (parent.includes('.') && names.has(parent)) return true;
  }
  return false;
}

function list(items: string[]): string {
  const more =
    items.length > MAX_LISTED_PROBLEMS ? ` and ${items.length - MAX_LISTED_PROBLEMS} more` : '';
  return `${items.slice(0, MAX_LISTED_PROBLEMS).join(', ')}${more}`;
}
