# language: da
Egenskab: Et journalsamtykke skal være indført i patientjournalen, før det bruges
  Sundhedsloven § 44 og projektbeskrivelsen: samtykket skal være skriftligt og skal
  indføres i patientjournalen. Indtil navigatøren har bekræftet, at det er sket, kan
  samtykket ikke bruges til at indhente oplysninger.

  Regel: Samtykket kan først bruges fra den dag, det er indført i patientjournalen

    Scenarie: Ikke indført i patientjournalen
      Givet et journalsamtykke underskrevet den 10. marts 2026
      Så har samtykket status "givet" den 1. april 2026
      Men en indhentning den 1. april 2026 er ikke dækket, fordi samtykket ikke er indført i patientjournalen

    Scenarie: Indført to dage efter underskriften
      Givet et journalsamtykke underskrevet den 10. marts 2026
      Og samtykket er indført i patientjournalen den 12. marts 2026
      Så er en indhentning den 11. marts 2026 ikke dækket, fordi samtykket ikke er indført i patientjournalen
      Og en indhentning den 12. marts 2026 er dækket

    Scenarie: Indførslen forlænger ikke samtykket
      Givet et journalsamtykke underskrevet den 10. marts 2026
      Og samtykket er indført i patientjournalen den 1. maj 2026
      Så er den sidste dag, samtykket dækker, den 9. marts 2027
      Og en indhentning den 10. marts 2027 er ikke dækket, fordi samtykket er udløbet

  Regel: Trivselssamtykket indføres ikke i patientjournalen

    Scenarie: Trivselssamtykket kan bruges uden journalnotat
      Givet et trivselssamtykke underskrevet den 10. marts 2026
      Så er behandling den 10. marts 2026 dækket
