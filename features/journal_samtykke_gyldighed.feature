# language: da
Egenskab: Et journalsamtykke gælder i ét år
  Sundhedsloven § 44, stk. 2: samtykket bortfalder senest 1 år efter, at det er givet.
  Projektbeskrivelsen: oplysningerne kan kun indhentes i et år fra samtykkets afgivelse;
  er der brug for oplysninger senere, skal der indhentes et nyt samtykke.

  Sådan regner vi: samtykket dækker fra og med den dag, det er skrevet under, til og med
  dagen før samme dato året efter. Er det skrevet under den 29. februar, er den sidste dag
  den 28. februar året efter.

  Regel: Samtykket dækker fra underskriften til og med dagen før samme dato året efter

    Abstrakt Scenario: Indhentning på en bestemt dag
      Givet et journalsamtykke underskrevet den <underskrevet>
      Og samtykket er indført i patientjournalen samme dag
      Så er en indhentning den <indhentning> <resultat>

      Eksempler:
        | underskrevet      | indhentning       | resultat                                          |
        | 10. marts 2026    | 10. marts 2026    | dækket                                            |
        | 10. marts 2026    | 9. marts 2027     | dækket                                            |
        | 10. marts 2026    | 10. marts 2027    | ikke dækket, fordi samtykket er udløbet           |
        | 10. marts 2026    | 9. marts 2026     | ikke dækket, fordi samtykket endnu ikke er givet  |
        | 1. marts 2027     | 29. februar 2028  | dækket                                            |
        | 1. marts 2027     | 1. marts 2028     | ikke dækket, fordi samtykket er udløbet           |

    Scenarie: Den sidste dag står i journalnotatet
      Givet et journalsamtykke underskrevet den 10. marts 2026
      Så er den sidste dag, samtykket dækker, den 9. marts 2027
      Og samtykket har status "givet" den 9. marts 2027
      Og samtykket har status "udløbet" den 10. marts 2027

  Regel: 364 dage efter underskriften er dækket, 366 dage efter er ikke

    Abstrakt Scenario: Antal dage efter underskriften
      Givet et journalsamtykke underskrevet den <underskrevet>
      Og samtykket er indført i patientjournalen samme dag
      Så er en indhentning 364 dage efter underskriften dækket
      Og en indhentning 366 dage efter underskriften er ikke dækket, fordi samtykket er udløbet

      Eksempler:
        | underskrevet      |
        | 15. juni 2026     |
        | 1. januar 2027    |
        | 1. marts 2027     |
        | 28. februar 2028  |
        | 29. februar 2028  |
        | 31. december 2027 |

  Regel: Et samtykke givet den 29. februar gælder til og med den 28. februar året efter

    Scenarie: Underskrevet på skuddagen
      Givet et journalsamtykke underskrevet den 29. februar 2028
      Og samtykket er indført i patientjournalen samme dag
      Så er den sidste dag, samtykket dækker, den 28. februar 2029
      Og en indhentning den 28. februar 2029 er dækket
      Og en indhentning den 1. marts 2029 er ikke dækket, fordi samtykket er udløbet

  Regel: Navigatøren får besked om nyt samtykke i god tid

    Scenarie: Samtykket udløber inden for 60 dage
      Givet et journalsamtykke underskrevet den 10. marts 2026
      Så står samtykket ikke på listen over samtykker, der udløber inden for 60 dage, den 7. januar 2027
      Og samtykket står på listen over samtykker, der udløber inden for 60 dage, den 8. januar 2027
      Og samtykket står ikke på listen over samtykker, der udløber inden for 60 dage, den 10. marts 2027
