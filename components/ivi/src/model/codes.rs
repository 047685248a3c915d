//! The code lists of IVI 2.0 that the model types, as enums (values as the official schema lists them).

use super::{Value, code_list};
use crate::{Error, Result};

code_list! {
    /// Code list `AdvancedBrakingSystem`.
    AdvancedBrakingSystem {
        ABS = "ABS",
        ACB = "ACB",
        CBS = "CBS",
        NON = "NON",
    }
}

code_list! {
    /// Code list `AerodynamicDeviceEquipped`.
    AerodynamicDeviceEquipped {
        BOTH = "BOTH",
        FRONT = "FRONT",
        NONE = "NONE",
        REAR = "REAR",
    }
}

code_list! {
    /// Code list `ArrangementCylinders`.
    ArrangementCylinders {
        LI = "LI",
        O = "O",
        R = "R",
        S = "S",
        V = "V",
        W = "W",
    }
}

code_list! {
    /// Code list `AutomatedVehicle`.
    AutomatedVehicle {
        AUTOM = "AUTOM",
        FULAT = "FULAT",
        NONAT = "NONAT",
    }
}

code_list! {
    /// Code list `Bodywork`.
    Bodywork {
        AA = "AA",
        AB = "AB",
        AC = "AC",
        AD = "AD",
        AE = "AE",
        AF = "AF",
        AG = "AG",
        BA = "BA",
        BB = "BB",
        BC = "BC",
        BD = "BD",
        BE = "BE",
        BX = "BX",
        CA = "CA",
        CB = "CB",
        CC = "CC",
        CD = "CD",
        CE = "CE",
        CF = "CF",
        CG = "CG",
        CH = "CH",
        CI = "CI",
        CJ = "CJ",
        CX = "CX",
        DA = "DA",
        DB = "DB",
        DC = "DC",
        DE = "DE",
        DF = "DF",
        DG = "DG",
    }
}

code_list! {
    /// Code list `BrakedTypeTrail`.
    BrakedTypeTrail {
        BRK = "BRK",
        HDB = "HDB",
        INB = "INB",
        PNB = "PNB",
        PNH = "PNH",
        UNB = "UNB",
    }
}

code_list! {
    /// Code list `CategoryHybridElectricVehicle`.
    CategoryHybridElectricVehicle {
        OVC = "OVC",
        NOVC = "NOVC",
    }
}

code_list! {
    /// Code list `CategorySubCategoryEnergyConvertor`.
    CategorySubCategoryEnergyConvertor {
        NREV1 = "NRE-v-1",
        NREV2 = "NRE-v-2",
        NREV3 = "NRE-v-3",
        NREV4 = "NRE-v-4",
        NREV5 = "NRE-v-5",
        NREV6 = "NRE-v-6",
        NREV7 = "NRE-v-7",
        NREC1 = "NRE-c-1",
        NREC2 = "NRE-c-2",
        NREC3 = "NRE-c-3",
        NREC4 = "NRE-c-4",
        NREC5 = "NRE-c-5",
        NREC6 = "NRE-c-6",
        NRGV1 = "NRG-v-1",
        NRGC1 = "NRG-c-1",
        NRSVr1a = "NRS-vr-1a",
        NRSVr1b = "NRS-vr-1b",
        NRSVi1a = "NRS-vi-1a",
        NRSVi1b = "NRS-vi-1b",
        NRSV2a = "NRS-v-2a",
        NRSV2b = "NRS-v-2b",
        NRSV3 = "NRS-v-3",
        ATSV1 = "ATS-v-1",
    }
}

code_list! {
    /// Code list `ClassHybridVehicle`.
    ClassHybridVehicle {
        OVCHEV = "OVC-HEV",
        NOVCHEV = "NOVC-HEV",
        OVCFCHV = "OVC-FCHV",
        NOVCFCHV = "NOVC-FCHV",
    }
}

code_list! {
    /// Code list `Colour`.
    Colour {
        V1 = "1",
        V2 = "2",
        V3 = "3",
        V4 = "4",
        V5 = "5",
        V6 = "6",
        V7 = "7",
        V8 = "8",
        V9 = "9",
        V10 = "10",
    }
}

code_list! {
    /// Code list `CombustionCycle`.
    CombustionCycle {
        V2ST = "2ST",
        V4ST = "4ST",
        ROT = "ROT",
        OTH = "OTH",
    }
}

code_list! {
    /// Code list `CompletedAltered`.
    CompletedAltered {
        A = "A",
        B = "B",
        C = "C",
    }
}

code_list! {
    /// Code list `DualFuelType`.
    DualFuelType {
        Type1A = "Type 1A",
        Type1B = "Type 1B",
        Type2A = "Type 2A",
        Type2B = "Type 2B",
        Type3B = "Type 3B",
    }
}

code_list! {
    /// Code list `ElectricVehicleConfiguration`.
    ElectricVehicleConfiguration {
        HYBRE = "HYBRE",
        MNPWE = "MNPWE",
        PUREE = "PUREE",
    }
}

code_list! {
    /// Code list `EnergySource`.
    EnergySource {
        V10 = "10",
        V11 = "11",
        V12 = "12",
        V15 = "15",
        V16 = "16",
        V19 = "19",
        V20 = "20",
        V21 = "21",
        V22 = "22",
        V30 = "30",
        V40 = "40",
        V44 = "44",
        V50 = "50",
        V55 = "55",
        V60 = "60",
        V90 = "90",
        V91 = "91",
        V95 = "95",
    }
}

code_list! {
    /// Code list `EuLanguage`.
    EuLanguage {
        Bg = "bg",
        Cs = "cs",
        Da = "da",
        De = "de",
        El = "el",
        En = "en",
        Es = "es",
        Et = "et",
        Fi = "fi",
        Fr = "fr",
        Ga = "ga",
        Hr = "hr",
        Hu = "hu",
        It = "it",
        Lt = "lt",
        Lv = "lv",
        Mt = "mt",
        Nl = "nl",
        Pl = "pl",
        Pt = "pt",
        Ro = "ro",
        Sk = "sk",
        Sl = "sl",
        Sv = "sv",
    }
}

code_list! {
    /// Code list `ExhaustEmissionLevel`.
    ExhaustEmissionLevel {
        Euro0 = "Euro 0",
        Euro1 = "Euro 1",
        Euro2 = "Euro 2",
        Euro3 = "Euro 3",
        Euro4 = "Euro 4",
        Euro5 = "Euro 5",
        Euro5Plus = "Euro 5+",
        Euro5A = "Euro 5 A",
        Euro5B = "Euro 5 B",
        Euro5C = "Euro 5 C",
        Euro5D = "Euro 5 D",
        Euro5E = "Euro 5 E",
        Euro5F = "Euro 5 F",
        Euro5G = "Euro 5 G",
        Euro5H = "Euro 5 H",
        Euro5I = "Euro 5 I",
        Euro5J = "Euro 5 J",
        Euro5K = "Euro 5 K",
        Euro5L = "Euro 5 L",
        Euro5M = "Euro 5 M",
        Euro6 = "Euro 6",
        Euro6AA = "Euro 6 AA",
        Euro6AB = "Euro 6 AB",
        Euro6AC = "Euro 6 AC",
        Euro6AD = "Euro 6 AD",
        Euro6AE = "Euro 6 AE",
        Euro6AF = "Euro 6 AF",
        Euro6AG = "Euro 6 AG",
        Euro6AH = "Euro 6 AH",
        Euro6AI = "Euro 6 AI",
        Euro6AJ = "Euro 6 AJ",
        Euro6AK = "Euro 6 AK",
        Euro6AL = "Euro 6 AL",
        Euro6AM = "Euro 6 AM",
        Euro6AN = "Euro 6 AN",
        Euro6AO = "Euro 6 AO",
        Euro6AP = "Euro 6 AP",
        Euro6AQ = "Euro 6 AQ",
        Euro6AR = "Euro 6 AR",
        Euro6BA = "Euro 6 BA",
        Euro6BB = "Euro 6 BB",
        Euro6BC = "Euro 6 BC",
        Euro6BG = "Euro 6 BG",
        Euro6BH = "Euro 6 BH",
        Euro6BI = "Euro 6 BI",
        Euro6CG = "Euro 6 CG",
        Euro6CH = "Euro 6 CH",
        Euro6CI = "Euro 6 CI",
        Euro6DG = "Euro 6 DG",
        Euro6EA = "Euro 6 EA",
        Euro6EB = "Euro 6 EB",
        Euro6EC = "Euro 6 EC",
        Euro6N = "Euro 6 N",
        Euro6O = "Euro 6 O",
        Euro6P = "Euro 6 P",
        Euro6PLN = "Euro 6 PLN",
        Euro6Q = "Euro 6 Q",
        Euro6R = "Euro 6 R",
        Euro6S = "Euro 6 S",
        Euro6T = "Euro 6 T",
        Euro6U = "Euro 6 U",
        Euro6V = "Euro 6 V",
        Euro6W = "Euro 6 W",
        Euro6X = "Euro 6 X",
        Euro6Y = "Euro 6 Y",
        Euro6ZA = "Euro 6 ZA",
        Euro6ZB = "Euro 6 ZB",
        Euro6ZC = "Euro 6 ZC",
        Euro6ZD = "Euro 6 ZD",
        Euro6ZE = "Euro 6 ZE",
        Euro6ZF = "Euro 6 ZF",
        Euro6ZG = "Euro 6 ZG",
        Euro6ZH = "Euro 6 ZH",
        Euro6ZI = "Euro 6 ZI",
        Euro6ZJ = "Euro 6 ZJ",
        Euro6ZK = "Euro 6 ZK",
        Euro6ZL = "Euro 6 ZL",
        Euro7FE = "Euro 7 FE",
        Euro7FL = "Euro 7 FL",
        Euro7GE = "Euro 7 GE",
        Euro7GL = "Euro 7 GL",
        Euro7GS = "Euro 7 GS",
        Euro7GT = "Euro 7 GT",
        Euro7HE = "Euro 7 HE",
        Euro7HL = "Euro 7 HL",
        Euro7HS = "Euro 7 HS",
        Euro7HT = "Euro 7 HT",
        Euro7TE = "Euro 7 TE",
        Euro7TL = "Euro 7 TL",
        Euro7TS = "Euro 7 TS",
        Euro7TT = "Euro 7 TT",
        EuroVG = "Euro V G",
        EuroVK = "Euro V K",
        EEV = "EEV",
        EEVK = "EEV K",
        EuroI = "Euro I",
        EuroII = "Euro II",
        EuroIII = "Euro III",
        EuroIV = "Euro IV",
        EuroV = "Euro V",
        EuroVI = "Euro VI",
        EuroVIA = "Euro VI A",
        EuroVIB = "Euro VI B",
        EuroVIC = "Euro VI C",
        EuroVID = "Euro VI D",
        EuroVIE = "Euro VI E",
        EuroVIEPlus = "Euro VI E+",
        AX = "AX",
        AY = "AY",
        AZ = "AZ",
        ZX = "ZX",
        ZY = "ZY",
        ZZ = "ZZ",
    }
}

code_list! {
    /// Code list `FuelType`.
    FuelType {
        B = "B",
        D = "D",
        F = "F",
        M = "M",
    }
}

code_list! {
    /// Code list `FuellingArrangement`.
    FuellingArrangement {
        D1A = "D1A",
        D1B = "D1B",
        D2A = "D2A",
        D2B = "D2B",
        D3B = "D3B",
        G = "G",
        L = "L",
    }
}

code_list! {
    /// Code list `Indicator`.
    Indicator {
        Y = "Y",
        N = "N",
    }
}

code_list! {
    /// Code list `IviVersionNumberXsd`.
    IviVersionNumberXsd {
        V20 = "2.0",
    }
}

code_list! {
    /// Code list `MethodAttachmentStatutoryPlate`.
    MethodAttachmentStatutoryPlate {
        A1 = "A1",
        A2 = "A2",
        A3 = "A3",
        A4 = "A4",
    }
}

code_list! {
    /// Code list `MetricImperialOdometer`.
    MetricImperialOdometer {
        B = "B",
        I = "I",
        M = "M",
    }
}

code_list! {
    /// Code list `MetricImperialSpeedometer`.
    MetricImperialSpeedometer {
        B = "B",
        I = "I",
        M = "M",
    }
}

code_list! {
    /// Code list `Optional`.
    Optional {
        Y = "Y",
        N = "N",
        O = "O",
    }
}

code_list! {
    /// Code list `RemarkSubjectDescription`.
    RemarkSubjectDescription {
        ADINF = "ADINF",
        COMTS = "COMTS",
        EXEMP = "EXEMP",
        RMRKS = "RMRKS",
    }
}

code_list! {
    /// Code list `RightLeftHandTraffic`.
    RightLeftHandTraffic {
        BOTH = "BOTH",
        LEFT = "LEFT",
        RIGHT = "RIGHT",
    }
}

code_list! {
    /// Code list `RollingResistanceClass`.
    RollingResistanceClass {
        A = "A",
        B = "B",
        C = "C",
        D = "D",
        E = "E",
        F = "F",
        G = "G",
    }
}

code_list! {
    /// Code list `SeatingPositionConfiguration`.
    SeatingPositionConfiguration {
        SAD = "SAD",
        SEA = "SEA",
    }
}

code_list! {
    /// Code list `SpecialPurposeDesignation`.
    SpecialPurposeDesignation {
        SA = "SA",
        SB = "SB",
        SC = "SC",
        SD = "SD",
        SE = "SE",
        SF = "SF",
        SG = "SG",
        SH = "SH",
        SJ = "SJ",
        SK = "SK",
        SL = "SL",
        SM = "SM",
    }
}

code_list! {
    /// Code list `SpeedCategorySymbol`.
    SpeedCategorySymbol {
        A1 = "A1",
        A2 = "A2",
        A3 = "A3",
        A4 = "A4",
        A5 = "A5",
        A6 = "A6",
        A7 = "A7",
        A8 = "A8",
        B = "B",
        C = "C",
        D = "D",
        E = "E",
        F = "F",
        G = "G",
        H = "H",
        I = "I",
        J = "J",
        K = "K",
        L = "L",
        M = "M",
        N = "N",
        P = "P",
        Q = "Q",
        R = "R",
        S = "S",
        T = "T",
        U = "U",
        V = "V",
        W = "W",
        Y = "Y",
        Z = "Z",
    }
}

code_list! {
    /// Code list `StageOfCompletion`.
    StageOfCompletion {
        C = "C",
        I = "I",
        V = "V",
    }
}

code_list! {
    /// Code list `SteeringCategory`.
    SteeringCategory {
        DIFFL = "DIFFL",
        HYDRL = "HYDRL",
        MANUL = "MANUL",
        POWER = "POWER",
        SERVO = "SERVO",
    }
}

code_list! {
    /// Code list `SubFuelType`.
    SubFuelType {
        LNG = "LNG",
        RH = "RH",
        RL = "RL",
        U = "U",
    }
}

code_list! {
    /// Code list `ThreePointLiftingMechanism`.
    ThreePointLiftingMechanism {
        BOTH = "BOTH",
        INEXT = "INEXT",
        FRONT = "FRONT",
        REAR = "REAR",
    }
}

code_list! {
    /// Code list `TypeApprovalCountry`.
    TypeApprovalCountry {
        E1 = "e1",
        E2 = "e2",
        E3 = "e3",
        E4 = "e4",
        E5 = "e5",
        E6 = "e6",
        E7 = "e7",
        E8 = "e8",
        E9 = "e9",
        E12 = "e12",
        E13 = "e13",
        E17 = "e17",
        E18 = "e18",
        E19 = "e19",
        E20 = "e20",
        E21 = "e21",
        E23 = "e23",
        E24 = "e24",
        E25 = "e25",
        E26 = "e26",
        E27 = "e27",
        E29 = "e29",
        E32 = "e32",
        E34 = "e34",
        E36 = "e36",
        E49 = "e49",
        E50 = "e50",
        // Not in the official list: the UK profile accepts these (retained EU, GB, Northern Ireland).
        E11 = "e11",
        G11 = "g11",
        N11 = "n11",
    }
}

code_list! {
    /// Code list `TypeApprovalType`.
    TypeApprovalType {
        NSS = "NSS",
        ESS = "ESS",
        EU = "EU",
    }
}

code_list! {
    /// Code list `TyreCategory`.
    TyreCategory {
        C1 = "C1",
        C2 = "C2",
        C3 = "C3",
    }
}

code_list! {
    /// Code list `TyreClassification`.
    TyreClassification {
        F1 = "F-1",
        F2 = "F-2",
        F3 = "F-3",
        G1 = "G-1",
        G2 = "G-2",
        G3 = "G-3",
        I1 = "I-1",
        I2 = "I-2",
        I3 = "I-3",
        I4 = "I-4",
        I5 = "I-5",
        I6 = "I-6",
        LS1 = "LS-1",
        LS2 = "LS-2",
        LS3 = "LS-3",
        LS4 = "LS-4",
        R1 = "R-1",
        R2 = "R-2",
        R3 = "R-3",
        R4 = "R-4",
    }
}

code_list! {
    /// Code list `TyrePlyRatingNumber`.
    TyrePlyRatingNumber {
        V2 = "2",
        V4 = "4",
        V6 = "6",
        V8 = "8",
        V10 = "10",
        V12 = "12",
        V14 = "14",
        V16 = "16",
        V18 = "18",
        V20 = "20",
        V22 = "22",
        V24 = "24",
    }
}

code_list! {
    /// Code list `TyreTubeType`.
    TyreTubeType {
        TUBLS = "TUBLS",
        TUBTP = "TUBTP",
    }
}

code_list! {
    /// Code list `VehicleCategory`.
    VehicleCategory {
        C1a = "C1a",
        C1b = "C1b",
        C2a = "C2a",
        C2b = "C2b",
        C3a = "C3a",
        C3b = "C3b",
        C41a = "C4.1a",
        C41b = "C4.1b",
        C42a = "C4.2a",
        C42b = "C4.2b",
        C43a = "C4.3a",
        C43b = "C4.3b",
        L1eA = "L1e-A",
        L1eB = "L1e-B",
        L2eP = "L2e-P",
        L2eU = "L2e-U",
        L3eA1 = "L3e-A1",
        L3eA1E = "L3e-A1E",
        L3eA1T = "L3e-A1T",
        L3eA2 = "L3e-A2",
        L3eA2E = "L3e-A2E",
        L3eA2T = "L3e-A2T",
        L3eA3 = "L3e-A3",
        L3eA3E = "L3e-A3E",
        L3eA3T = "L3e-A3T",
        L4eA1 = "L4e-A1",
        L4eA2 = "L4e-A2",
        L4eA3 = "L4e-A3",
        L5eA = "L5e-A",
        L5eB = "L5e-B",
        L6eA = "L6e-A",
        L6eBP = "L6e-BP",
        L6eBU = "L6e-BU",
        L7eA1 = "L7e-A1",
        L7eA2 = "L7e-A2",
        L7eB1 = "L7e-B1",
        L7eB2 = "L7e-B2",
        L7eCP = "L7e-CP",
        L7eCU = "L7e-CU",
        M1 = "M1",
        M1G = "M1G",
        M1GS = "M1GS",
        M1S = "M1S",
        M2 = "M2",
        M2G = "M2G",
        M2GS = "M2GS",
        M2S = "M2S",
        M3 = "M3",
        M3G = "M3G",
        M3GS = "M3GS",
        M3S = "M3S",
        N1 = "N1",
        N1G = "N1G",
        N1GS = "N1GS",
        N1S = "N1S",
        N2 = "N2",
        N2G = "N2G",
        N2GS = "N2GS",
        N2S = "N2S",
        N3 = "N3",
        N3G = "N3G",
        N3GS = "N3GS",
        N3S = "N3S",
        O1 = "O1",
        O1S = "O1S",
        O2 = "O2",
        O2S = "O2S",
        O3 = "O3",
        O3S = "O3S",
        O4 = "O4",
        O4S = "O4S",
        R1a = "R1a",
        R1b = "R1b",
        R2a = "R2a",
        R2b = "R2b",
        R3a = "R3a",
        R3b = "R3b",
        R4a = "R4a",
        R4b = "R4b",
        S1a = "S1a",
        S1b = "S1b",
        S2a = "S2a",
        S2b = "S2b",
        T1a = "T1a",
        T1b = "T1b",
        T2a = "T2a",
        T2b = "T2b",
        T3a = "T3a",
        T3b = "T3b",
        T41a = "T4.1a",
        T41b = "T4.1b",
        T42a = "T4.2a",
        T42b = "T4.2b",
        T43a = "T4.3a",
        T43b = "T4.3b",
    }
}

code_list! {
    /// Code list `ViennaCountry`.
    ViennaCountry {
        A = "A",
        AL = "AL",
        AND = "AND",
        AM = "AM",
        AUS = "AUS",
        AZ = "AZ",
        B = "B",
        BD = "BD",
        BDS = "BDS",
        BG = "BG",
        BH = "BH",
        BIH = "BIH",
        BR = "BR",
        BRN = "BRN",
        BRU = "BRU",
        BS = "BS",
        BW = "BW",
        BY = "BY",
        C = "C",
        CDN = "CDN",
        CGO = "CGO",
        CH = "CH",
        CI = "CI",
        CL = "CL",
        CO = "CO",
        CR = "CR",
        CV = "CV",
        CY = "CY",
        CZ = "CZ",
        D = "D",
        DK = "DK",
        DOM = "DOM",
        DZ = "DZ",
        E = "E",
        EAK = "EAK",
        EAT = "EAT",
        EAU = "EAU",
        EC = "EC",
        EG = "EG",
        EST = "EST",
        F = "F",
        FIN = "FIN",
        FJI = "FJI",
        FL = "FL",
        FO = "FO",
        GBA = "GBA",
        GBG = "GBG",
        GBJ = "GBJ",
        GBM = "GBM",
        GBZ = "GBZ",
        GCA = "GCA",
        GE = "GE",
        GH = "GH",
        GR = "GR",
        GUY = "GUY",
        H = "H",
        HK = "HK",
        HKJ = "HKJ",
        HR = "HR",
        I = "I",
        IL = "IL",
        IND = "IND",
        IR = "IR",
        IRL = "IRL",
        IRQ = "IRQ",
        IS = "IS",
        J = "J",
        JA = "JA",
        KH = "KH",
        KG = "KG",
        KWT = "KWT",
        KZ = "KZ",
        L = "L",
        LAO = "LAO",
        LS = "LS",
        LT = "LT",
        LV = "LV",
        M = "M",
        MA = "MA",
        MAL = "MAL",
        MC = "MC",
        MD = "MD",
        MEX = "MEX",
        MGL = "MGL",
        MNE = "MNE",
        MS = "MS",
        MW = "MW",
        MYA = "MYA",
        N = "N",
        NA = "NA",
        NAM = "NAM",
        NIC = "NIC",
        NL = "NL",
        NZ = "NZ",
        OM = "OM",
        P = "P",
        PA = "PA",
        PK = "PK",
        PAL = "PAL",
        PE = "PE",
        PL = "PL",
        PNG = "PNG",
        PS = "PS",
        PY = "PY",
        RA = "RA",
        RC = "RC",
        RCA = "RCA",
        RCB = "RCB",
        RCH = "RCH",
        RH = "RH",
        RI = "RI",
        RL = "RL",
        RM = "RM",
        RMM = "RMM",
        RN = "RN",
        RO = "RO",
        ROK = "ROK",
        ROU = "ROU",
        RP = "RP",
        RSM = "RSM",
        RUS = "RUS",
        RWA = "RWA",
        S = "S",
        SD = "SD",
        SGP = "SGP",
        SK = "SK",
        SLO = "SLO",
        SME = "SME",
        SN = "SN",
        SRB = "SRB",
        SY = "SY",
        SYR = "SYR",
        T = "T",
        TG = "TG",
        TJ = "TJ",
        TM = "TM",
        TN = "TN",
        TR = "TR",
        TT = "TT",
        UA = "UA",
        UAE = "UAE",
        UK = "UK",
        USA = "USA",
        UZ = "UZ",
        V = "V",
        VN = "VN",
        WAG = "WAG",
        WAL = "WAL",
        WAN = "WAN",
        WG = "WG",
        WL = "WL",
        WS = "WS",
        WV = "WV",
        YV = "YV",
        Z = "Z",
        ZA = "ZA",
        ZW = "ZW",
    }
}

code_list! {
    /// Code list `WorkingPrinciple`.
    WorkingPrinciple {
        CMPRA = "CMPRA",
        ELECT = "ELECT",
        EXTCI = "EXTCI",
        EXTPI = "EXTPI",
        INTCI = "INTCI",
        INTPI = "INTPI",
        TRBNE = "TRBNE",
    }
}
