#!/usr/bin/env bash
# Install ingress-nginx for kind (the upstream kind provider manifest at a pinned controller
# version: hostPorts 80/443 on the node, IngressClass `nginx`) and wait until it serves.
#
# Two settings make the kind chain look like the ingresscheck lab, where the load balancer
# terminates *.example.test and redirects port 80 to https:
#   * --default-ssl-certificate: the demo wildcard *.example.test certificate
#     (controller/default-certificate.yaml, from make-demo-certs.py) for Ingresses without a tls block;
#   * force-ssl-redirect: http:// is redirected to https:// for every host, not only TLS ones.
# Set INGRESSCHECK_LAB_LIKE=0 to install the plain upstream controller instead.
#
# Usage: deploy/kind/install-controller.sh   (kubectl must point at the kind cluster)
set -euo pipefail

INGRESS_NGINX_VERSION="${INGRESS_NGINX_VERSION:-controller-v1.15.1}"
MANIFEST="https://raw.githubusercontent.com/kubernetes/ingress-nginx/${INGRESS_NGINX_VERSION}/deploy/static/provider/kind/deploy.yaml"
HERE="$(cd "$(dirname "$0")" && pwd)"
NS=ingress-nginx

echo "==> ingress-nginx ${INGRESS_NGINX_VERSION} (kind provider)"
kubectl apply -f "$MANIFEST"

if [[ "${INGRESSCHECK_LAB_LIKE:-1}" == 1 ]]; then
  echo "==> default certificate *.example.test and force-ssl-redirect (like the lab's load balancer)"
  kubectl apply -f "$HERE/controller/default-certificate.yaml"
  kubectl -n "$NS" patch configmap ingress-nginx-controller --type merge \
    -p '{"data":{"force-ssl-redirect":"true"}}'
  arg="--default-ssl-certificate=${NS}/example-test-wildcard"
  if ! kubectl -n "$NS" get deployment ingress-nginx-controller \
      -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q -- "$arg"; then
    kubectl -n "$NS" patch deployment ingress-nginx-controller --type json \
      -p "[{\"op\":\"add\",\"path\":\"/spec/template/spec/containers/0/args/-\",\"value\":\"$arg\"}]"
  fi
  kubectl -n "$NS" rollout status deployment/ingress-nginx-controller --timeout=180s
fi

echo "==> waiting for the controller"
kubectl wait --namespace ingress-nginx \
  --for=condition=ready pod \
  --selector=app.kubernetes.io/component=controller \
  --timeout=180s

# The validating webhook rejects every Ingress until the admission Job has written its CA into
# the webhook configuration; wait for that too, so applying Ingresses right away does not fail.
echo "==> waiting for the admission webhook"
for _ in $(seq 1 90); do
  ca="$(kubectl get validatingwebhookconfiguration ingress-nginx-admission \
    -o jsonpath='{.webhooks[0].clientConfig.caBundle}' 2>/dev/null || true)"
  [[ -n "$ca" ]] && { echo "ingress-nginx is ready"; exit 0; }
  sleep 2
done
echo "ingress-nginx: the admission webhook has no CA bundle after 180 s" >&2
exit 1
