//! The groups of IVI 2.0 that the model types, with the official element names, in schema order.

use super::codes::*;
use super::{
    Date, DateTime, Decimal, Group, IVI_NS, Value, field_ty, finish_field, group, ivi_text,
    read_field, read_table, slot_ty, write_field, write_table,
};
use crate::Result;
use crate::xml::{Element, Node};

group! {
    /// `Header`.
    Header {
        ivi_reference_id: one String = "IviReferenceId",
        ivi_version_number_xsd: one IviVersionNumberXsd = "IviVersionNumberXsd",
        ivi_version_number: one u32 = "IviVersionNumber",
        ivi_version_date_time: one DateTime = "IviVersionDateTime",
        intended_country_registration: opt ViennaCountry = "IntendedCountryRegistration",
        designated_type_approval_country: one TypeApprovalCountry = "DesignatedTypeApprovalCountry",
    }
}

group! {
    /// `CocDataGroup`.
    CocDataGroup {
        vehicle_identification_number: one String = "VehicleIdentificationNumber",
        type_approval_type: one TypeApprovalType = "TypeApprovalType",
        provisional_type_approval_indicator: one Indicator = "ProvisionalTypeApprovalIndicator",
        stage_of_completion: one StageOfCompletion = "StageOfCompletion",
        production_year_small_series: opt u32 = "ProductionYearSmallSeries",
        production_sequential_number_small_series: opt u32 = "ProductionSequentialNumberSmallSeries",
        vehicle_type: one String = "Type",
        variant: one String = "Variant",
        version: one String = "Version",
        vehicle_category: one VehicleCategory = "VehicleCategory",
        location_statutory_plate23_wheel: opt String = "LocationStatutoryPlate23Wheel",
        method_attachment_statutory_plate: one MethodAttachmentStatutoryPlate = "MethodAttachmentStatutoryPlate",
        location_vin23_wheel: opt String = "LocationVin23Wheel",
        date_manufacture_vehicle: opt Date = "DateManufactureVehicle",
        completed_altered: opt CompletedAltered = "CompletedAltered",
        description_completed_altered: opt String = "DescriptionCompletedAltered",
        type_approval_number: one String = "TypeApprovalNumber",
        type_approval_issue_date: one Date = "TypeApprovalIssueDate",
        converting_performance_indicator: opt Indicator = "ConvertingPerformanceIndicator",
        right_left_hand_traffic: opt RightLeftHandTraffic = "RightLeftHandTraffic",
        metric_imperial_speedometer: opt MetricImperialSpeedometer = "MetricImperialSpeedometer",
        metric_imperial_odometer: opt MetricImperialOdometer = "MetricImperialOdometer",
        maximum_speed: opt Decimal = "MaximumSpeed",
        declared_maximum_speed_forward: opt Decimal = "DeclaredMaximumSpeedForward",
        declared_maximum_speed_rearward: opt Decimal = "DeclaredMaximumSpeedRearward",
        maximum_assistance_factor: opt Decimal = "MaximumAssistanceFactor",
        maximum_assistance_speed: opt Decimal = "MaximumAssistanceSpeed",
        type_approval_transport_dangerous_goods_indicator: opt Indicator = "TypeApprovalTransportDangerousGoodsIndicator",
        eco_innovations_fitted_indicator: opt Indicator = "EcoInnovationsFittedIndicator",
        category_hybrid_electric_vehicle: opt CategoryHybridElectricVehicle = "CategoryHybridElectricVehicle",
        three_point_lifting_mechanism: opt ThreePointLiftingMechanism = "ThreePointLiftingMechanism",
        additional_coupling_points: opt Optional = "AdditionalCouplingPoints",
        electronic_braking_system: opt Optional = "ElectronicBrakingSystem",
        electrical_control_line_indicator: opt Indicator = "ElectricalControlLineIndicator",
        iso7638_connector_indicator: opt Indicator = "Iso7638ConnectorIndicator",
        description_service_and_maintenance: opt String = "DescriptionServiceAndMaintenance",
        vehicle_certified155_indicator: opt Indicator = "VehicleCertified155Indicator",
        vehicle_certified156_indicator: opt Indicator = "VehicleCertified156Indicator",
        consolidated_maximum30_minutes_power: opt Decimal = "ConsolidatedMaximum30MinutesPower",
        consolidated_maximum_net_power_electric: opt Decimal = "ConsolidatedMaximumNetPowerElectric",
        pure_electric_vehicle_indicator: opt Indicator = "PureElectricVehicleIndicator",
        exhaust_emission_level: opt ExhaustEmissionLevel = "ExhaustEmissionLevel",
        exhaust_emission_latest_regulation_number: opt String = "ExhaustEmissionLatestRegulationNumber",
        wltp_total_co2_emission_saved_due_eco_innovation: opt Decimal = "WltpTotalCo2EmissionSavedDueEcoInnovation",
        manufacturer_hybrid_application: opt String = "ManufacturerHybridApplication",
        hybrid_application_code: opt String = "HybridApplicationCode",
        class_hybrid_vehicle: opt ClassHybridVehicle = "ClassHybridVehicle",
        fuel_type: opt FuelType = "FuelType",
        sub_fuel_type: opt SubFuelType = "SubFuelType",
        fuelling_arrangement: opt FuellingArrangement = "FuellingArrangement",
        dual_fuel_type: opt DualFuelType = "DualFuelType",
        electric_vehicle_configuration: opt ElectricVehicleConfiguration = "ElectricVehicleConfiguration",
        signing_authority_table: tab SigningAuthorityGroup = "SigningAuthorityTable",
        make_table: tab MakeGroup = "MakeTable",
        commercial_name_table: otab CommercialNameGroup = "CommercialNameTable",
        manufacturer_table: tab ManufacturerGroup = "ManufacturerTable",
        general_construction_group: grp GeneralConstructionGroup = "GeneralConstructionGroup",
        dimension_group: grp DimensionGroup = "DimensionGroup",
        mass_group: grp MassGroup = "MassGroup",
        towing_braked_type_trail_table: otab TowingBrakedTypeTrailGroup = "TowingBrakedTypeTrailTable",
        axle_table: otab AxleGroup = "AxleTable",
        colour_table: otab ColourGroup = "ColourTable",
        bodywork_table: otab BodyworkGroup = "BodyworkTable",
        energy_convertor_table: otab EnergyConvertorGroup = "EnergyConvertorTable",
        remark_table: otab RemarkGroup = "RemarkTable",
    }
}

group! {
    /// `ManufacturerGroup`.
    ManufacturerGroup {
        manufacturer_stage_number: one u32 = "ManufacturerStageNumber",
        manufacturer_name: one String = "ManufacturerName",
        manufacturer_address_line1: one String = "ManufacturerAddressLine1",
        manufacturer_address_line2: opt String = "ManufacturerAddressLine2",
        manufacturer_address_line3: opt String = "ManufacturerAddressLine3",
        manufacturer_place_of_residence: one String = "ManufacturerPlaceOfResidence",
        manufacturer_country_of_residence: one String = "ManufacturerCountryOfResidence",
        previous_stage_type_approval_number: opt String = "PreviousStageTypeApprovalNumber",
        previous_stage_type: opt String = "PreviousStageType",
        previous_stage_variant: opt String = "PreviousStageVariant",
        previous_stage_version: opt String = "PreviousStageVersion",
    }
}

group! {
    /// `GeneralConstructionGroup`.
    GeneralConstructionGroup {
        number_of_axles: opt u32 = "NumberOfAxles",
        number_of_wheels: opt u32 = "NumberOfWheels",
        number_of_axles_with_twin_wheels: opt u32 = "NumberOfAxlesWithTwinWheels",
        number_of_steered_axles: opt u32 = "NumberOfSteeredAxles",
        number_of_powered_axles: opt u32 = "NumberOfPoweredAxles",
        number_of_braked_axles: opt u32 = "NumberOfBrakedAxles",
        number_of_doors: opt u32 = "NumberOfDoors",
        automated_vehicle: opt AutomatedVehicle = "AutomatedVehicle",
        number_of_seating_positions_including_driver: opt u32 = "NumberOfSeatingPositionsIncludingDriver",
        number_of_seating_positions_excluding_driver: opt u32 = "NumberOfSeatingPositionsExcludingDriver",
        number_of_seats_stationary_use_only: opt u32 = "NumberOfSeatsStationaryUseOnly",
        number_of_seating_positions_lower_deck: opt u32 = "NumberOfSeatingPositionsLowerDeck",
        number_of_seating_positions_upper_deck: opt u32 = "NumberOfSeatingPositionsUpperDeck",
        number_of_wheelchair_user_accessible_positions: opt u32 = "NumberOfWheelchairUserAccessiblePositions",
        number_of_standing_places: opt u32 = "NumberOfStandingPlaces",
        seating_position_configuration: opt SeatingPositionConfiguration = "SeatingPositionConfiguration",
        reversible_driving_position_indicator: opt Indicator = "ReversibleDrivingPositionIndicator",
        location_arrangement_seats: opt String = "LocationArrangementSeats",
        steering_category: opt SteeringCategory = "SteeringCategory",
        number_of_sets_ballast_masses: opt u32 = "NumberOfSetsBallastMasses",
        advanced_braking_system: opt AdvancedBrakingSystem = "AdvancedBrakingSystem",
    }
}

group! {
    /// `DimensionGroup`.
    DimensionGroup {
        wheelbase: opt u32 = "Wheelbase",
        wheelbase_adjustable_min: opt u32 = "WheelbaseAdjustableMin",
        wheelbase_adjustable_max: opt u32 = "WheelbaseAdjustableMax",
        wheel_base_side_car: opt u32 = "WheelBaseSideCar",
        wheel_base_ground_ratio: opt Decimal = "WheelBaseGroundRatio",
        length: opt u32 = "Length",
        length_adjustable_min: opt u32 = "LengthAdjustableMin",
        length_adjustable_max: opt u32 = "LengthAdjustableMax",
        width: opt u32 = "Width",
        width_adjustable_min: opt u32 = "WidthAdjustableMin",
        width_adjustable_max: opt u32 = "WidthAdjustableMax",
        height: opt u32 = "Height",
        height_adjustable_min: opt u32 = "HeightAdjustableMin",
        height_adjustable_max: opt u32 = "HeightAdjustableMax",
        seating_height: opt u32 = "SeatingHeight",
        rear_overhang: opt u32 = "RearOverhang",
        rear_overhang_adjustable_min: opt u32 = "RearOverhangAdjustableMin",
        rear_overhang_adjustable_max: opt u32 = "RearOverhangAdjustableMax",
        maximum_permissible_rear_overhang: opt u32 = "MaximumPermissibleRearOverhang",
        maximum_permissible_length: opt u32 = "MaximumPermissibleLength",
        maximum_permissible_length_min: opt u32 = "MaximumPermissibleLengthMin",
        maximum_permissible_length_max: opt u32 = "MaximumPermissibleLengthMax",
        maximum_permissible_width: opt u32 = "MaximumPermissibleWidth",
        maximum_permissible_width_min: opt u32 = "MaximumPermissibleWidthMin",
        maximum_permissible_width_max: opt u32 = "MaximumPermissibleWidthMax",
        maximum_permissible_height: opt u32 = "MaximumPermissibleHeight",
        maximum_permissible_height_min: opt u32 = "MaximumPermissibleHeightMin",
        maximum_permissible_height_max: opt u32 = "MaximumPermissibleHeightMax",
        length_loading_area: opt u32 = "LengthLoadingArea",
        length_loading_area_adjustable_min: opt u32 = "LengthLoadingAreaAdjustableMin",
        length_loading_area_adjustable_max: opt u32 = "LengthLoadingAreaAdjustableMax",
        elongated_cab_indicator: opt Indicator = "ElongatedCabIndicator",
        aerodynamic_device_equipped: opt AerodynamicDeviceEquipped = "AerodynamicDeviceEquipped",
        maximum_authorised_dimensions_derogation_indicator: opt Indicator = "MaximumAuthorisedDimensionsDerogationIndicator",
    }
}

group! {
    /// `MassGroup`.
    MassGroup {
        mass_in_running_order: opt u32 = "MassInRunningOrder",
        mass_in_running_order_variable_min: opt u32 = "MassInRunningOrderVariableMin",
        mass_in_running_order_variable_max: opt u32 = "MassInRunningOrderVariableMax",
        actual_mass: opt u32 = "ActualMass",
        mass_in_running_order_incomplete: opt u32 = "MassInRunningOrderIncomplete",
        technically_permissible_maximum_laden_mass: opt u32 = "TechnicallyPermissibleMaximumLadenMass",
        technically_permissible_maximum_laden_mass_variable_min: opt u32 = "TechnicallyPermissibleMaximumLadenMassVariableMin",
        technically_permissible_maximum_laden_mass_variable_max: opt u32 = "TechnicallyPermissibleMaximumLadenMassVariableMax",
        minimum_mass_completed: opt u32 = "MinimumMassCompleted",
        additional_mass_alternative_propulsion: opt u32 = "AdditionalMassAlternativePropulsion",
        additional_mass_due_to_batteries: opt u32 = "AdditionalMassDueToBatteries",
        ballast_mass_total: opt u32 = "BallastMassTotal",
        three_point_lifting_mechanism_maximum_towable_mass: opt u32 = "ThreePointLiftingMechanismMaximumTowableMass",
    }
}

group! {
    /// `AxleGroup`.
    AxleGroup {
        axle_number: one u32 = "AxleNumber",
        twin_wheels_axle_indicator: opt Indicator = "TwinWheelsAxleIndicator",
        steered_axle_indicator: opt Indicator = "SteeredAxleIndicator",
        powered_axle_indicator: opt Indicator = "PoweredAxleIndicator",
        braked_axle_indicator: opt Indicator = "BrakedAxleIndicator",
        axle_track: opt u32 = "AxleTrack",
        axle_track_adjustable_min: opt u32 = "AxleTrackAdjustableMin",
        axle_track_adjustable_max: opt u32 = "AxleTrackAdjustableMax",
        lift_axle_indicator: opt Indicator = "LiftAxleIndicator",
        loadable_axle_indicator: opt Indicator = "LoadableAxleIndicator",
        drive_axle_air_suspension_or_equivalent_indicator: opt Indicator = "DriveAxleAirSuspensionOrEquivalentIndicator",
        axle_air_suspension_or_equivalent_indicator: opt Indicator = "AxleAirSuspensionOrEquivalentIndicator",
        axle_spacing: opt u32 = "AxleSpacing",
        axle_spacing_adjustable_min: opt u32 = "AxleSpacingAdjustableMin",
        axle_spacing_adjustable_max: opt u32 = "AxleSpacingAdjustableMax",
        distribution_mass_running_order_axle: opt u32 = "DistributionMassRunningOrderAxle",
        distribution_mass_incomplete_axle: opt u32 = "DistributionMassIncompleteAxle",
        minimal_permissible_distribution_mass_completed_axle: opt u32 = "MinimalPermissibleDistributionMassCompletedAxle",
        technically_permissible_mass_axle: opt u32 = "TechnicallyPermissibleMassAxle",
        technically_permissible_mass_axle_adjustable_min: opt u32 = "TechnicallyPermissibleMassAxleAdjustableMin",
        technically_permissible_mass_axle_adjustable_max: opt u32 = "TechnicallyPermissibleMassAxleAdjustableMax",
        ground_clearance_between_axles: opt u32 = "GroundClearanceBetweenAxles",
        tyre_axle_table: otab TyreAxleGroup = "TyreAxleTable",
    }
}

group! {
    /// `TyreAxleGroup`.
    TyreAxleGroup {
        tyre_number: one u32 = "TyreNumber",
        technically_permissible_maximum_mass_axle_tyre: opt u32 = "TechnicallyPermissibleMaximumMassAxleTyre",
        tyre_size: opt String = "TyreSize",
        load_capacity_index_single_wheel: opt u32 = "LoadCapacityIndexSingleWheel",
        load_capacity_index_twin_wheel: opt u32 = "LoadCapacityIndexTwinWheel",
        speed_category_symbol: opt SpeedCategorySymbol = "SpeedCategorySymbol",
        rim_size: opt String = "RimSize",
        rim_off_set: opt Decimal = "RimOffSet",
        tyre_tube_type: opt TyreTubeType = "TyreTubeType",
        tyre_maximum_speed_indicator: opt Indicator = "TyreMaximumSpeedIndicator",
        tyre_ply_rating_number: opt TyrePlyRatingNumber = "TyrePlyRatingNumber",
        tyre_classification: opt TyreClassification = "TyreClassification",
        tyre_rolling_radius: opt Decimal = "TyreRollingRadius",
        tyre_load_rating: opt u32 = "TyreLoadRating",
        tyre_axle_track: opt u32 = "TyreAxleTrack",
        tyre_axle_track_adjustable_min: opt u32 = "TyreAxleTrackAdjustableMin",
        tyre_axle_track_adjustable_max: opt u32 = "TyreAxleTrackAdjustableMax",
        rolling_resistance_class: opt RollingResistanceClass = "RollingResistanceClass",
        tyre_fitted_production_indicator: opt Indicator = "TyreFittedProductionIndicator",
        tyre_category: opt TyreCategory = "TyreCategory",
        recommended_tyre_pressure: opt Decimal = "RecommendedTyrePressure",
    }
}

group! {
    /// `EnergyConvertorGroup`.
    EnergyConvertorGroup {
        manufacturer_energy_convertor: opt String = "ManufacturerEnergyConvertor",
        energy_convertor_code_marked_on_energy_convertor: opt String = "EnergyConvertorCodeMarkedOnEnergyConvertor",
        energy_convertor_type_approval_number: opt String = "EnergyConvertorTypeApprovalNumber",
        category_sub_category_energy_convertor: opt CategorySubCategoryEnergyConvertor = "CategorySubCategoryEnergyConvertor",
        working_principle: opt WorkingPrinciple = "WorkingPrinciple",
        combustion_cycle: opt CombustionCycle = "CombustionCycle",
        number_of_cylinders: opt u32 = "NumberOfCylinders",
        arrangement_cylinders: opt ArrangementCylinders = "ArrangementCylinders",
        engine_capacity: opt Decimal = "EngineCapacity",
        energy_source_table: otab EnergySourceGroup = "EnergySourceTable",
    }
}

group! {
    /// `EnergySourceGroup`.
    EnergySourceGroup {
        energy_source: one EnergySource = "EnergySource",
        power_mass_ratio: opt Decimal = "PowerMassRatio",
        smoke_corrected_absorption_coefficient: opt Decimal = "SmokeCorrectedAbsorptionCoefficient",
        maximum_acceptable_amount_percentage_biofuel: opt Decimal = "MaximumAcceptableAmountPercentageBiofuel",
        power_group: grp PowerGroup = "PowerGroup",
        test_wltp_co2_group: grp TestWltpCo2Group = "TestWltpCo2Group",
        test_wltp_fuel_consumption_group: grp TestWltpFuelConsumptionGroup = "TestWltpFuelConsumptionGroup",
    }
}

group! {
    /// `PowerGroup`.
    PowerGroup {
        maximum_net_power_combustion: opt Decimal = "MaximumNetPowerCombustion",
        engine_speed_maximum_net_power: opt u32 = "EngineSpeedMaximumNetPower",
        engine_speed_maximum_net_power_min: opt u32 = "EngineSpeedMaximumNetPowerMin",
        engine_speed_maximum_net_power_max: opt u32 = "EngineSpeedMaximumNetPowerMax",
        maximum15_minutes_power: opt Decimal = "Maximum15MinutesPower",
        maximum30_minutes_power: opt Decimal = "Maximum30MinutesPower",
        maximum_net_power_electric: opt Decimal = "MaximumNetPowerElectric",
        declared_rated_net_power: opt Decimal = "DeclaredRatedNetPower",
    }
}

group! {
    /// `TestWltpCo2Group`.
    TestWltpCo2Group {
        wltp_co2_low: opt Decimal = "WltpCo2Low",
        wltp_co2_medium: opt Decimal = "WltpCo2Medium",
        wltp_co2_high: opt Decimal = "WltpCo2High",
        wltp_co2_extra_high: opt Decimal = "WltpCo2ExtraHigh",
        wltp_co2_combined: opt Decimal = "WltpCo2Combined",
        wltp_co2_weighted_combined: opt Decimal = "WltpCo2WeightedCombined",
        wltp_co2_charge_sustaining_low: opt Decimal = "WltpCo2ChargeSustainingLow",
        wltp_co2_charge_sustaining_medium: opt Decimal = "WltpCo2ChargeSustainingMedium",
        wltp_co2_charge_sustaining_high: opt Decimal = "WltpCo2ChargeSustainingHigh",
        wltp_co2_charge_sustaining_extra_high: opt Decimal = "WltpCo2ChargeSustainingExtraHigh",
        wltp_co2_charge_sustaining_combined: opt Decimal = "WltpCo2ChargeSustainingCombined",
        wltp_co2_charge_depleting_combined: opt Decimal = "WltpCo2ChargeDepletingCombined",
    }
}

group! {
    /// `TestWltpFuelConsumptionGroup`.
    TestWltpFuelConsumptionGroup {
        wltp_fuel_consumption_low: opt Decimal = "WltpFuelConsumptionLow",
        wltp_fuel_consumption_medium: opt Decimal = "WltpFuelConsumptionMedium",
        wltp_fuel_consumption_high: opt Decimal = "WltpFuelConsumptionHigh",
        wltp_fuel_consumption_extra_high: opt Decimal = "WltpFuelConsumptionExtraHigh",
        wltp_fuel_consumption_combined: opt Decimal = "WltpFuelConsumptionCombined",
        wltp_fuel_consumption_weighted_combined: opt Decimal = "WltpFuelConsumptionWeightedCombined",
        wltp_fuel_consumption_charge_sustaining_low: opt Decimal = "WltpFuelConsumptionChargeSustainingLow",
        wltp_fuel_consumption_charge_sustaining_medium: opt Decimal = "WltpFuelConsumptionChargeSustainingMedium",
        wltp_fuel_consumption_charge_sustaining_high: opt Decimal = "WltpFuelConsumptionChargeSustainingHigh",
        wltp_fuel_consumption_charge_sustaining_extra_high: opt Decimal = "WltpFuelConsumptionChargeSustainingExtraHigh",
        wltp_fuel_consumption_charge_sustaining_combined: opt Decimal = "WltpFuelConsumptionChargeSustainingCombined",
        wltp_fuel_consumption_charge_depleting_combined: opt Decimal = "WltpFuelConsumptionChargeDepletingCombined",
    }
}

group! {
    /// `BodyworkGroup`.
    BodyworkGroup {
        code_for_bodywork: opt Bodywork = "CodeForBodywork",
        special_purpose_designation: opt SpecialPurposeDesignation = "SpecialPurposeDesignation",
        other_bodywork: opt String = "OtherBodywork",
    }
}

group! {
    /// `ColourGroup`.
    ColourGroup {
        colour: one Colour = "Colour",
    }
}

group! {
    /// `CommercialNameGroup`.
    CommercialNameGroup {
        commercial_name: one String = "CommercialName",
    }
}

group! {
    /// `TowingBrakedTypeTrailGroup`.
    TowingBrakedTypeTrailGroup {
        mechanical_coupling_number_towing_masses: opt u32 = "MechanicalCouplingNumberTowingMasses",
        braked_type_trail: opt BrakedTypeTrail = "BrakedTypeTrail",
    }
}

group! {
    /// `RemarkGroup`.
    RemarkGroup {
        remark_subject_description: one RemarkSubjectDescription = "RemarkSubjectDescription",
        remark_subject_language: one EuLanguage = "RemarkSubjectLanguage",
        remark: one String = "Remark",
    }
}

group! {
    /// `SigningAuthorityGroup`.
    SigningAuthorityGroup {
        signer_name: one String = "SignerName",
        signer_position: one String = "SignerPosition",
        signature_location: one String = "SignatureLocation",
        signature_date: one Date = "SignatureDate",
    }
}

group! {
    /// `MakeGroup`.
    MakeGroup {
        make: one String = "Make",
    }
}
