DROP TABLE application_materials;
