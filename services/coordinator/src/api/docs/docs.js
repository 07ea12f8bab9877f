// Which contract to show: ?spec=NAME among the files this node serves (coordinator by default).
const names = ['coordinator', 'discovery', 'provisioner', 'storage', 'vnc-gateway'];
const asked = new URLSearchParams(location.search).get('spec');
const name = names.includes(asked) ? asked : 'coordinator';
for (const a of document.querySelectorAll('nav a')) {
  if (a.getAttribute('href') === `/docs?spec=${name}`) a.setAttribute('aria-current', 'page');
}
// validatorUrl null: Swagger UI would otherwise send the contract to an outside validator.
window.SwaggerUIBundle({ url: `/openapi/${name}.yaml`, dom_id: '#docs', validatorUrl: null, deepLinking: true });
