/**
 * Every bound the policy evaluator puts on hostile or malformed input, with where the number comes from.
 * Objects beyond these are reported as problems ("could not evaluate"), never truncated silently.
 */

/** Calico's CRDs cap every selector field at 1024 characters (`+kubebuilder:validation:MaxLength=1024` on
 * `NetworkPolicySpec.Selector` in projectcalico/calico api/pkg/apis/projectcalico/v3/networkpolicy.go). */
export const SELECTOR_MAX_LENGTH = 1024;

/** Calico's tokenizer refuses label names longer than 512 (`MaxLabelLength` in
 * libcalico-go/lib/selector/tokenizer/tokenizer.go). */
export const LABEL_KEY_MAX_LENGTH = 512;

/** Parenthesis / negation nesting our recursive-descent parser accepts. Calico has no limit; 32 is our choice,
 * far above anything written by hand, and it keeps a hostile "((((…" from exhausting the stack. */
export const SELECTOR_MAX_DEPTH = 32;

/** Calico allows at most 1024 rules per direction (`+kubebuilder:validation:MaxItems=1024` on Ingress/Egress
 * in networkpolicy.go); we apply the same bound to Kubernetes policies. */
export const RULES_MAX = 1024;

/** Peers, ports, nets, set values and matchExpressions per list. Kubernetes sets no count limit (the 1.5 MiB
 * etcd object size bounds it); 1024 mirrors Calico's rule bound and is our choice. */
export const LIST_MAX = 1024;

/** A Kubernetes label value is at most 63 characters; a qualified key is a DNS subdomain prefix (253) + "/" +
 * a 63-character name (k8s.io/apimachinery/pkg/util/validation). */
export const LABEL_VALUE_MAX_LENGTH = 63;
export const QUALIFIED_KEY_MAX_LENGTH = 253 + 1 + 63;
