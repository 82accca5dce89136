"""What operators look at: the Prometheus ``/metrics`` exposition, the JSON API of the web
console and the CLI (``/console/api/...``), and the console's static pages
(``/console``). Imports only ``ekiden.core``: every action goes through the same services
as the AWS APIs, never straight to the store."""
