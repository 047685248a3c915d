#!/usr/bin/env python3
"""Writes components/pipeline/demo/records/*.json: one ERP record per IVI writer fixture
(components/ivi/tests/fixtures/<case>/expected.xml), in the shape the demo mapping reads.
Run from the repository root: python3 scripts/demo_records.py"""
import json
import xml.etree.ElementTree as ET
from pathlib import Path

NS = "{http://eu.ereg.initialvehicleinformation.v2}"
CASES = {"m1": "m1", "n1": "n1", "n3-tractor": "n3-tractor", "o3-trailer": "o3-trailer", "l3e": "l3e",
         "n2-stage1-chassis": "n2-stage1", "n2-stage2-completed": "n2-stage2"}
STAGES = {"C": "complete", "I": "incomplete", "V": "completed"}


def t(e, path):
    found = e.find("/".join(NS + p for p in path.split("/")))
    return None if found is None else found.text


def num(v):
    return None if v is None else (float(v) if "." in v else int(v))


def yn(v):
    return None if v is None else v == "Y"


def prune(v):
    if isinstance(v, dict):
        out = {k: prune(x) for k, x in v.items()}
        return {k: x for k, x in out.items() if x not in (None, {}, [])}
    if isinstance(v, list):
        return [prune(x) for x in v]
    return v


def record(root):
    h, c = root.find(NS + "Header"), root.find(NS + "CocDataGroup")
    rec = {
        "vin": t(c, "VehicleIdentificationNumber"),
        "version": int(t(h, "IviVersionNumber")),
        "approval": {"country": t(h, "DesignatedTypeApprovalCountry"), "kind": t(c, "TypeApprovalType"),
                     "provisional": yn(t(c, "ProvisionalTypeApprovalIndicator")),
                     "number": t(c, "TypeApprovalNumber"), "issued": t(c, "TypeApprovalIssueDate")},
        "stage_of_completion": STAGES[t(c, "StageOfCompletion")],
        "type": t(c, "Type"), "variant": t(c, "Variant"), "version_code": t(c, "Version"),
        "category": t(c, "VehicleCategory"), "statutory_plate": t(c, "MethodAttachmentStatutoryPlate"),
        "emissions": {"level": t(c, "ExhaustEmissionLevel"), "fuel_type": t(c, "FuelType")},
        "signed_by": {"name": t(c, "SigningAuthorityTable/SigningAuthorityGroup/SignerName"),
                      "position": t(c, "SigningAuthorityTable/SigningAuthorityGroup/SignerPosition"),
                      "place": t(c, "SigningAuthorityTable/SigningAuthorityGroup/SignatureLocation"),
                      "date": t(c, "SigningAuthorityTable/SigningAuthorityGroup/SignatureDate")},
        "make": t(c, "MakeTable/MakeGroup/Make"),
        "commercial_name": t(c, "CommercialNameTable/CommercialNameGroup/CommercialName"),
        "manufacturers": [{
            "stage": int(t(m, "ManufacturerStageNumber")), "name": t(m, "ManufacturerName"),
            "address": t(m, "ManufacturerAddressLine1"), "city": t(m, "ManufacturerPlaceOfResidence"),
            "country": t(m, "ManufacturerCountryOfResidence"),
            "previous_stage": {"approval_number": t(m, "PreviousStageTypeApprovalNumber"),
                               "type": t(m, "PreviousStageType"), "variant": t(m, "PreviousStageVariant"),
                               "version": t(m, "PreviousStageVersion")}}
            for m in c.iter(NS + "ManufacturerGroup")],
        "construction": {"axles": num(t(c, "GeneralConstructionGroup/NumberOfAxles")),
                         "wheels": num(t(c, "GeneralConstructionGroup/NumberOfWheels"))},
        "dimensions_mm": {k.lower(): num(t(c, "DimensionGroup/" + k)) for k in ("Wheelbase", "Length", "Width", "Height")},
        "masses_kg": {"running_order": num(t(c, "MassGroup/MassInRunningOrder")),
                      "running_order_incomplete": num(t(c, "MassGroup/MassInRunningOrderIncomplete")),
                      "max_laden": num(t(c, "MassGroup/TechnicallyPermissibleMaximumLadenMass"))},
        "axles": [{"number": num(t(a, "AxleNumber")), "twin_wheels": yn(t(a, "TwinWheelsAxleIndicator")),
                   "powered": yn(t(a, "PoweredAxleIndicator")),
                   "mass_running_order_kg": num(t(a, "DistributionMassRunningOrderAxle")),
                   "max_mass_kg": num(t(a, "TechnicallyPermissibleMassAxle")),
                   "tyres": [{"number": num(t(y, "TyreNumber")), "size": t(y, "TyreSize")}
                             for y in a.iter(NS + "TyreAxleGroup")]}
                  for a in c.iter(NS + "AxleGroup")],
        "towing": [{"coupling": num(t(g, "MechanicalCouplingNumberTowingMasses")),
                    "braking": t(g, "BrakedTypeTrail")}
                   for g in c.iter(NS + "TowingBrakedTypeTrailGroup")],
        "colours": [{"code": t(g, "Colour")} for g in c.iter(NS + "ColourGroup")],
        "bodywork": [{"code": t(g, "CodeForBodywork")} for g in c.iter(NS + "BodyworkGroup")],
        "engines": [{"manufacturer": t(g, "ManufacturerEnergyConvertor"),
                     "code": t(g, "EnergyConvertorCodeMarkedOnEnergyConvertor"),
                     "energy_source": t(g, "EnergySourceTable/EnergySourceGroup/EnergySource"),
                     "max_net_power_kw": num(t(g, "EnergySourceTable/EnergySourceGroup/PowerGroup/MaximumNetPowerCombustion")),
                     "wltp_co2_combined_g_km": num(t(g, "EnergySourceTable/EnergySourceGroup/TestWltpCo2Group/WltpCo2Combined"))}
                    for g in c.iter(NS + "EnergyConvertorGroup")],
    }
    return prune(rec)


out = Path("components/pipeline/demo/records")
out.mkdir(parents=True, exist_ok=True)
for case, name in CASES.items():
    root = ET.parse(f"components/ivi/tests/fixtures/{case}/expected.xml").getroot()
    (out / f"{name}.json").write_text(json.dumps(record(root), indent=2) + "\n")
    if name == "n2-stage2":
        drifted = record(root)
        # A stage 2 of its own (version 1), not a correction: a correction needs version 1 on record.
        drifted["masses_kg"]["max_laden"] = 7900
        (out / "n2-stage2-drifted.json").write_text(json.dumps(drifted, indent=2) + "\n")
print("wrote", sorted(p.name for p in out.iterdir()))

# The demo tenant's type-approval records: one per approval number above, with permitted ranges
# around the demo values (masses +-10-15 %, dimensions +-5 %).
approvals = {}
for case, name in CASES.items():
    root = ET.parse(f"components/ivi/tests/fixtures/{case}/expected.xml").getroot()
    c = root.find(NS + "CocDataGroup")
    number = t(c, "TypeApprovalNumber")
    entry = approvals.setdefault(number, {
        "approval_number": number, "type": t(c, "Type"), "variants": [], "versions": [],
        "category": t(c, "VehicleCategory"), "ranges": {}})
    for key, value in (("variants", t(c, "Variant")), ("versions", t(c, "Version"))):
        if value not in entry[key]:
            entry[key].append(value)
    for element, low, high in (("MassInRunningOrder", 0.85, 1.15),
                               ("TechnicallyPermissibleMaximumLadenMass", 0.9, 1.1),
                               ("Length", 0.95, 1.05), ("Width", 0.95, 1.05), ("Height", 0.95, 1.05)):
        value = t(c, f"MassGroup/{element}") or t(c, f"DimensionGroup/{element}")
        if value is not None:
            entry["ranges"][element] = {"min": round(int(value) * low), "max": round(int(value) * high)}
Path("components/pipeline/demo/approvals.json").write_text(
    json.dumps({"approvals": list(approvals.values())}, indent=2) + "\n")

# Three M1 cars as a CSV batch, columns named by JSON pointers into the record.
import csv
import io
m1 = record(ET.parse("components/ivi/tests/fixtures/m1/expected.xml").getroot())


def flatten(value, prefix=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(v, f"{prefix}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}/{i}")
    else:
        yield prefix, ("Y" if value is True else "N" if value is False else str(value))


columns = [k for k, _ in flatten(m1)]
buffer = io.StringIO()
writer = csv.writer(buffer, lineterminator="\n")
writer.writerow(columns)
for n, suffix in enumerate(["0000101", "0000102", "0000103"]):
    row = dict(flatten(m1))
    row["/vin"] = m1["vin"][:10] + suffix
    row["/colours/0/code"] = ["3", "8", "10"][n]
    writer.writerow([row[c] for c in columns])
Path("components/pipeline/demo/records.csv").write_text(buffer.getvalue())
