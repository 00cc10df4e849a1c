# Installs the software updates Windows Update offers, through the Windows Update Agent API
# (https://learn.microsoft.com/windows/win32/wua_sdk/searching--downloading--and-installing-updates).
# Exits 3010 when Windows needs a restart to finish: in build mode the action then restarts the VM
# before the next script. Listing it twice installs what the restart may have made applicable.
$ErrorActionPreference = 'Stop'

$session = New-Object -ComObject Microsoft.Update.Session
$search = $session.CreateUpdateSearcher().Search("IsInstalled=0 and Type='Software' and IsHidden=0")
Write-Output "$($search.Updates.Count) update(s) to install"
if ($search.Updates.Count -eq 0) { exit 0 }

$updates = New-Object -ComObject Microsoft.Update.UpdateColl
foreach ($update in $search.Updates) {
  if (-not $update.EulaAccepted) { $update.AcceptEula() }
  Write-Output "  $($update.Title)"
  [void]$updates.Add($update)
}

$downloader = $session.CreateUpdateDownloader()
$downloader.Updates = $updates
[void]$downloader.Download()

$installer = $session.CreateUpdateInstaller()
$installer.Updates = $updates
$result = $installer.Install()
# OperationResultCode: 2 succeeded, 3 succeeded with errors, 4 failed, 5 aborted.
Write-Output "Installation result $($result.ResultCode), restart required: $($result.RebootRequired)"
if ($result.ResultCode -ge 4) { exit 1 }
if ($result.RebootRequired) { exit 3010 }
exit 0
