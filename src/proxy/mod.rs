//! Sans-IO proxy core (to be written).
