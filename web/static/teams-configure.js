/* The channel tab's configuration page: tells Teams what the tab shows once the unit presses Save. */
(function () {
  "use strict";
  var root = document.getElementById("tab-configure");
  if (!root || typeof microsoftTeams === "undefined") { return; }
  var status = document.getElementById("configure-status");
  microsoftTeams.app.initialize().then(function () {
    var base = window.location.origin;
    microsoftTeams.pages.config.registerOnSaveHandler(function (saveEvent) {
      microsoftTeams.pages.config.setConfig({
        entityId: "sobot-caseload",
        suggestedDisplayName: root.dataset.name,
        contentUrl: base + root.dataset.contentUrl,
        websiteUrl: base + "/caseload"
      }).then(function () { saveEvent.notifySuccess(); })
        .catch(function (error) { saveEvent.notifyFailure(String(error)); });
    });
    microsoftTeams.pages.config.setValidityState(true);
    microsoftTeams.app.notifySuccess();
  }).catch(function () {
    status.textContent = "This page is for adding sobot to a Teams channel: open it from Teams.";
  });
})();
