// Starts GraphiQL (loaded before this file from the gateway's own pinned copies) against the
// endpoint that served the page. `?q=` opens a query; headers are not kept in local storage.
"use strict";
(function () {
  var DEFAULT_QUERY = [
    "# The personalization gateway. Run with Ctrl-Enter.",
    "#",
    "# Sign in: put a token in Headers, e.g. {\"Authorization\": \"Bearer <token>\"}",
    "# (`gateway token --role user --sub 1` prints one), then ask for `viewer`.",
    "",
    "{",
    "  whoami { role subject }",
    "  feed(surface: HOME, limit: 3) { rank item { name } why { mode summary } }",
    "}",
    "",
  ].join("\n");
  var params = new URLSearchParams(window.location.search);
  var endpoint = window.location.pathname;
  var fetcher = GraphiQL.createFetcher({ url: endpoint });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: DEFAULT_QUERY,
      query: params.get("q") || undefined,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
