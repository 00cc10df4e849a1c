/**
 * Azure's display names of public regions, as ARM's Subscriptions - List Locations answers them
 * (`name` → `displayName`; `az account list-locations`). GalleryRP echoes `targetRegions[].name` and
 * the replication summary's `region` in this form ("West US" after "westus": Azure CLI recording
 * test_image_version_create_os_vhd.yaml; spec example GalleryImageVersion_Get_WithReplicationStatus.json).
 */
const DISPLAY: Record<string, string> = {
  eastus: 'East US',
  eastus2: 'East US 2',
  southcentralus: 'South Central US',
  westus2: 'West US 2',
  westus3: 'West US 3',
  australiaeast: 'Australia East',
  southeastasia: 'Southeast Asia',
  northeurope: 'North Europe',
  swedencentral: 'Sweden Central',
  uksouth: 'UK South',
  westeurope: 'West Europe',
  centralus: 'Central US',
  southafricanorth: 'South Africa North',
  centralindia: 'Central India',
  eastasia: 'East Asia',
  japaneast: 'Japan East',
  koreacentral: 'Korea Central',
  canadacentral: 'Canada Central',
  francecentral: 'France Central',
  germanywestcentral: 'Germany West Central',
  italynorth: 'Italy North',
  norwayeast: 'Norway East',
  polandcentral: 'Poland Central',
  spaincentral: 'Spain Central',
  switzerlandnorth: 'Switzerland North',
  mexicocentral: 'Mexico Central',
  uaenorth: 'UAE North',
  brazilsouth: 'Brazil South',
  israelcentral: 'Israel Central',
  qatarcentral: 'Qatar Central',
  newzealandnorth: 'New Zealand North',
  northcentralus: 'North Central US',
  westus: 'West US',
  japanwest: 'Japan West',
  westcentralus: 'West Central US',
  southafricawest: 'South Africa West',
  australiacentral: 'Australia Central',
  australiacentral2: 'Australia Central 2',
  australiasoutheast: 'Australia Southeast',
  southindia: 'South India',
  westindia: 'West India',
  canadaeast: 'Canada East',
  ukwest: 'UK West',
  koreasouth: 'Korea South',
  francesouth: 'France South',
  germanynorth: 'Germany North',
  norwaywest: 'Norway West',
  switzerlandwest: 'Switzerland West',
  uaecentral: 'UAE Central',
  brazilsoutheast: 'Brazil Southeast'
}

/** 'westus' or 'West US' → 'West US'; a name not in the table is returned as given. */
export function displayRegion(name: string): string {
  return DISPLAY[name.replace(/\s+/g, '').toLowerCase()] ?? name
}
